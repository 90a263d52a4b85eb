"""One problem about one event of a captured document (RFC 7807 in spirit, one per finding).

Kept apart from ``capture`` so that validation and the view can build problems without
importing the capture pipeline; ``capture`` re-exports ``Problem`` (the contract with
scanapp.trace names it there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Problem:
    index: int | None  # position in the document's eventList (None: the document itself)
    event_id: str | None
    field: str | None  # JSON-pointer-ish path, e.g. "/epcisBody/eventList/3/bizLocation"
    code: str  # machine code: "schema", "duplicate_event_id", "forbidden", ...
    message: str  # human text (English; Vietnamese welcome)

    def as_dict(self) -> dict:
        return asdict(self)


def event_pointer(index: int | None, path: str = "") -> str:
    """The JSON pointer of a field of the ``index``-th event of a document's eventList."""
    if index is None:
        return path or "/"
    return f"/epcisBody/eventList/{index}{path}"
