"""Request and response bodies of the consumer report API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..extensions import Schema
from .models import PROBLEMS, STATUSES


class ReportFormSchema(ma.Schema):
    """The multipart form (documentation: the view checks it with ``service.read_input``)."""

    code = ma.fields.String(metadata={"description": "the scanned code (stamp URI)"})
    outcome = ma.fields.String(metadata={"description": "the page's outcome when filed"})
    problem = ma.fields.String(required=True, validate=validate.OneOf(PROBLEMS))
    details = ma.fields.String(validate=validate.Length(max=2000))
    where_bought = ma.fields.String(validate=validate.Length(max=300))
    phone = ma.fields.String(validate=validate.Length(max=20))
    device_id = ma.fields.String(validate=validate.Length(max=128),
                                 metadata={"description": "stored hashed"})
    photo = ma.fields.Raw(metadata={"type": "string", "format": "binary",
                                    "description": "JPEG, PNG, WebP or GIF, at most 8 MB"})


class ReportCreated(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    created_at = ma.fields.DateTime()


class ReportQuery(Schema):
    province = ma.fields.String(validate=validate.Length(2, 2))
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    gtin = ma.fields.String(validate=validate.Length(14, 14))
    since = ma.fields.AwareDateTime(default_timezone=None)
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = ma.fields.Integer(load_default=50, validate=validate.Range(1, 200))


class ReportOut(ma.Schema):
    id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    status = ma.fields.String()
    code = ma.fields.String()
    gtin = ma.fields.String(allow_none=True)
    lot = ma.fields.String(allow_none=True)
    serial = ma.fields.String(allow_none=True)
    outcome = ma.fields.String()
    problem = ma.fields.String()
    details = ma.fields.String(allow_none=True)
    where_bought = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True, metadata={"description": "inspectors only"})
    scan_id = ma.fields.Integer(allow_none=True)
    scanned_at = ma.fields.DateTime(allow_none=True)
    province = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    verdict = ma.fields.String(allow_none=True)
    reasons = ma.fields.List(ma.fields.String())
    has_photo = ma.fields.Function(lambda r: r.photo_type is not None)
    photo_url = ma.fields.Function(
        lambda r: f"/api/v1/reports/{r.id}/photo" if r.photo_type else None)
    lang = ma.fields.String()


class ReportPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ReportOut))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
