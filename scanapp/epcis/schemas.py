"""Query arguments of the events endpoint (EPCIS 2.0 REST names, plus short aliases)."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma

from ..extensions import Schema
from .mapping import KINDS, VN_TZ
from .query import DEFAULT_PAGE, MAX_PAGE


class Instant(ma.fields.String):
    """An ISO 8601 date-time, or a bare date meaning its start in Vietnam (UTC+7).

    A date-time without an offset is taken as UTC, as EPCIS times are.
    """

    default_error_messages = {"invalid": "give an ISO 8601 date-time or a YYYY-MM-DD date"}

    def _deserialize(self, value, attr, data, **kwargs) -> dt.datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), VN_TZ)
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.make_error("invalid") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class EventQuerySchema(Schema):
    GE_eventTime = Instant(metadata={"description": "events at or after this time (ISO 8601, "
                                     "or YYYY-MM-DD: that day's start in Vietnam)"})
    LT_eventTime = Instant(metadata={"description": "events before this time"})
    since = Instant(metadata={"description": "alias of GE_eventTime"})
    until = Instant(metadata={"description": "alias of LT_eventTime"})
    gtin = ma.fields.String(validate=ma.validate.Length(1, 14),
                            metadata={"description": "GTIN-8/12/13/14 of the product"})
    eventType = ma.fields.String(validate=ma.validate.Length(1, 40),
                                 metadata={"description": "e.g. ObjectEvent"})
    EQ_eventType = ma.fields.String(validate=ma.validate.Length(1, 40),
                                    metadata={"description": "alias of eventType"})
    bizStep = ma.fields.String(validate=ma.validate.Length(1, 100), metadata={
        "description": "CBV 2.0 business step, bare (inspecting) or as its CBV URI"})
    EQ_bizStep = ma.fields.String(validate=ma.validate.Length(1, 100),
                                  metadata={"description": "alias of bizStep"})
    disposition = ma.fields.String(validate=ma.validate.Length(1, 100),
                                   metadata={"description": "CBV 2.0 disposition"})
    EQ_disposition = ma.fields.String(validate=ma.validate.Length(1, 100),
                                      metadata={"description": "alias of disposition"})
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS),
                            metadata={"description": "scanapp's name for the step"})
    perPage = ma.fields.Integer(load_default=DEFAULT_PAGE,
                                validate=ma.validate.Range(1, MAX_PAGE),
                                metadata={"description": f"events per page (max {MAX_PAGE})"})
    nextPageToken = ma.fields.String(validate=ma.validate.Length(1, 200), metadata={
        "description": "from the previous page's Link rel=next"})


class OutboxStatusSchema(Schema):
    capture_url = ma.fields.String(allow_none=True)
    pending = ma.fields.Integer()
    retrying = ma.fields.Integer()
    sent = ma.fields.Integer()
    oldest_pending = ma.fields.DateTime(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
