"""Report photos: the shared photo cleaning of ``scanapp.photos`` (consumer reports and the
inspectors' field inspections store photos the same way)."""

from ..photos import (
    ACCEPTED,
    MAX_BYTES,
    MAX_PIXELS,
    STORED_EDGE,
    Photo,
    PhotoRejected,
    clean_photo,
)

__all__ = ["ACCEPTED", "MAX_BYTES", "MAX_PIXELS", "STORED_EDGE", "Photo", "PhotoRejected",
           "clean_photo"]
