"""Photos people send (consumer reports, field inspections): the type is judged by content
(Pillow decodes it), never by the file name or the browser's content type; size and pixel
count are bounded before decoding (a small file can expand to gigabytes of pixels); the
stored copy is re-encoded, which drops every metadata block (EXIF GPS position, camera
serial), after applying the EXIF orientation."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidInput

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40 MP phone camera; more is a decompression bomb or not a photo
STORED_EDGE = 1600  # longest edge kept: enough to read a stamp, ~200-400 KB as JPEG
ACCEPTED = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}


@dataclass(frozen=True)
class Photo:
    data: bytes
    content_type: str
    width: int
    height: int


class PhotoRejected(InvalidInput):
    code = "invalid_photo"


def clean_photo(raw: bytes, accepted: frozenset[str] | set[str] = ACCEPTED) -> Photo:
    """The photo re-encoded as JPEG without metadata, or ``PhotoRejected``. ``accepted``:
    the image formats (Pillow's names) this caller takes."""
    if len(raw) > MAX_BYTES:
        raise PhotoRejected(f"the photo is {len(raw) // (1024 * 1024)} MB; the limit is "
                            f"{MAX_BYTES // (1024 * 1024)} MB", code="photo_too_large")
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            kind = probe.format
            width, height = probe.size
            if kind not in accepted:
                names = ", ".join(sorted({"JPEG" if k == "MPO" else k for k in accepted}))
                raise PhotoRejected(f"the file is not an image of an accepted type ({names})")
            if width * height > MAX_PIXELS:
                raise PhotoRejected(f"the photo has {width}x{height} pixels; the limit is "
                                    f"{MAX_PIXELS // 1_000_000} megapixels",
                                    code="photo_too_large")
            probe.verify()
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
            image.thumbnail((STORED_EDGE, STORED_EDGE))
            out = io.BytesIO()
            # No exif= argument: nothing of the original's metadata is written.
            image.save(out, "JPEG", quality=82, optimize=True)
            return Photo(out.getvalue(), "image/jpeg", image.width, image.height)
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError) as exc:
        raise PhotoRejected("the file is not an image we can read "
                            f"({type(exc).__name__})") from None
