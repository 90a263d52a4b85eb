"""Request and response shapes of the inspector API and the brand webhook settings."""

from __future__ import annotations

import marshmallow as ma

from ..extensions import Schema
from ..regions import PROVINCES
from ..risk.rules import (
    HOTSPOT_DEFAULT_MIN_COPIED,
    HOTSPOT_DEFAULT_MIN_FORGED,
    HOTSPOT_DEFAULT_MIN_NETWORKS,
)
from .flags import FINDINGS, STATUSES


def _province(value: str) -> None:
    if value not in PROVINCES:
        raise ma.ValidationError("unknown province code; use the two-digit codes of the 34 units")


def _statuses(value: str) -> None:
    unknown = [s for s in value.split(",") if s and s not in STATUSES]
    if unknown:
        raise ma.ValidationError(f"unknown status {unknown}; choose from {', '.join(STATUSES)}")


class WindowSchema(Schema):
    since = ma.fields.AwareDateTime(default_timezone=None,
                                    metadata={"description": "ISO 8601 with a UTC offset"})
    until = ma.fields.AwareDateTime(default_timezone=None)


class FlagQuerySchema(WindowSchema):
    province = ma.fields.String(validate=_province)
    gtin = ma.fields.String(validate=ma.validate.Length(1, 14))
    min_risk = ma.fields.Integer(validate=ma.validate.Range(0, 100))
    status = ma.fields.String(validate=_statuses,
                              metadata={"description": "one status or several, comma-separated"})
    brand = ma.fields.Integer(metadata={"description": "inspectors/admins: brand org id"})
    product_id = ma.fields.Integer()
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(1, 100000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 200))


class FlagSchema(Schema):
    id = ma.fields.Integer()
    serial = ma.fields.String()
    gtin = ma.fields.String()
    product_id = ma.fields.Integer(allow_none=True)
    brand_org_id = ma.fields.Integer(allow_none=True)
    range_id = ma.fields.Integer(allow_none=True)
    risk = ma.fields.Integer()
    reasons = ma.fields.List(ma.fields.String())
    province = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    assignee = ma.fields.String(allow_none=True)
    escalations = ma.fields.Integer()
    raised_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class FlagPageSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(FlagSchema))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()


class CaseEventSchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    action = ma.fields.String()
    actor_org_id = ma.fields.Integer(allow_none=True)
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    assignee = ma.fields.String(allow_none=True)
    risk = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)


class FlagDetailSchema(FlagSchema):
    trail = ma.fields.List(ma.fields.Nested(CaseEventSchema))


class CaseActionSchema(Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    note = ma.fields.String(validate=ma.validate.Length(max=5000))
    assignee = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200),
                                metadata={"description": "null or empty to unassign"})


class InspectionCreateSchema(Schema):
    serial = ma.fields.String(required=True, validate=ma.validate.Length(1, 20))
    gtin = ma.fields.String(validate=ma.validate.Length(1, 14))
    finding = ma.fields.String(required=True, validate=ma.validate.OneOf(FINDINGS))
    lat = ma.fields.Float(validate=ma.validate.Range(-90, 90), allow_nan=False)
    lon = ma.fields.Float(validate=ma.validate.Range(-180, 180), allow_nan=False)
    province = ma.fields.String(validate=_province)
    place = ma.fields.String(validate=ma.validate.Length(max=300),
                             metadata={"description": "shop name, market stall, address"})
    note = ma.fields.String(validate=ma.validate.Length(max=5000))


class InspectionSchema(Schema):
    id = ma.fields.Integer()
    serial = ma.fields.String()
    gtin = ma.fields.String()
    flag_id = ma.fields.Integer(allow_none=True)
    inspector_org_id = ma.fields.Integer()
    at = ma.fields.DateTime()
    finding = ma.fields.String()
    province = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    place = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


class HotspotQuerySchema(WindowSchema):
    province = ma.fields.String(validate=_province)
    gtin = ma.fields.String(validate=ma.validate.Length(1, 14))
    min_forged = ma.fields.Integer(load_default=HOTSPOT_DEFAULT_MIN_FORGED,
                                   validate=ma.validate.Range(1, 1000000))
    min_copied = ma.fields.Integer(load_default=HOTSPOT_DEFAULT_MIN_COPIED,
                                   validate=ma.validate.Range(1, 1000000), metadata={
                                       "description": "distinct flagged codes with copies "
                                                      "scanned in a place that make it a "
                                                      "copied-code hotspot"})
    min_networks = ma.fields.Integer(load_default=HOTSPOT_DEFAULT_MIN_NETWORKS,
                                     validate=ma.validate.Range(1, 1000000), metadata={
                                         "description": "distinct client networks either "
                                                        "kind of hotspot needs"})


class ProvinceCountSchema(Schema):
    province = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    name_en = ma.fields.String(allow_none=True)
    forged = ma.fields.Integer(metadata={"description": "scans of forged codes"})
    forged_codes = ma.fields.Integer(metadata={"description": "distinct forged codes"})
    flagged = ma.fields.Integer(metadata={"description": "scans of flagged genuine codes"})
    flagged_codes = ma.fields.Integer(metadata={"description": "distinct flagged codes "
                                                "scanned"})
    copied = ma.fields.Integer(metadata={"description": "scans with fraud signals of "
                                         "flagged genuine codes"})
    copied_codes = ma.fields.Integer()
    networks = ma.fields.Integer()
    hotspot = ma.fields.Boolean(metadata={"description": "forged-code hotspot"})
    copied_hotspot = ma.fields.Boolean()


class CellCountSchema(Schema):
    cell = ma.fields.String()
    lat = ma.fields.Float()
    lon = ma.fields.Float()
    province = ma.fields.String(allow_none=True)
    forged = ma.fields.Integer(metadata={"description": "scans of forged codes"})
    forged_codes = ma.fields.Integer(metadata={"description": "distinct forged codes"})
    flagged = ma.fields.Integer(metadata={"description": "scans of flagged genuine codes"})
    flagged_codes = ma.fields.Integer(metadata={"description": "distinct flagged codes "
                                                "scanned"})
    copied = ma.fields.Integer(metadata={"description": "scans with fraud signals of "
                                         "flagged genuine codes"})
    copied_codes = ma.fields.Integer()
    networks = ma.fields.Integer()
    hotspot = ma.fields.Boolean(metadata={"description": "forged-code hotspot"})
    copied_hotspot = ma.fields.Boolean()


class HotspotsSchema(Schema):
    since = ma.fields.DateTime()
    until = ma.fields.DateTime()
    min_forged = ma.fields.Integer()
    min_copied = ma.fields.Integer()
    min_networks = ma.fields.Integer()
    provinces = ma.fields.List(ma.fields.Nested(ProvinceCountSchema))
    cells = ma.fields.List(ma.fields.Nested(CellCountSchema))


class WebhookSetSchema(Schema):
    url = ma.fields.URL(required=True, allow_none=True, schemes={"http", "https"},
                        require_tld=False, validate=ma.validate.Length(max=500),
                        metadata={"description": "null removes the webhook"})
    rotate_secret = ma.fields.Boolean(load_default=False)


class WebhookSchema(Schema):
    url = ma.fields.String(allow_none=True)
    secret = ma.fields.String(
        allow_none=True,
        metadata={"description": "the signing secret; shown only when it was just created"})
    has_secret = ma.fields.Boolean()


class DeliverySchema(Schema):
    event_id = ma.fields.String()
    event_type = ma.fields.String()
    created_at = ma.fields.DateTime()
    attempts = ma.fields.Integer()
    delivered_at = ma.fields.DateTime(allow_none=True)
    failed_at = ma.fields.DateTime(allow_none=True)
    next_attempt_at = ma.fields.DateTime()
    last_status = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)


class SignalSchema(Schema):
    id = ma.fields.String()
    title_en = ma.fields.String()
    title_vi = ma.fields.String()
    explanation_en = ma.fields.String()
    explanation_vi = ma.fields.String()


class DossierScanSchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    gtin = ma.fields.String(metadata={"description": "the GTIN the code was scanned under"})
    verdict = ma.fields.String()
    risk = ma.fields.Integer()
    reasons = ma.fields.List(ma.fields.String())
    scan_no = ma.fields.Integer(allow_none=True)
    province = ma.fields.String(allow_none=True)
    province_name = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    cell = ma.fields.String(allow_none=True)
    source = ma.fields.String(allow_none=True)
    device = ma.fields.String(allow_none=True,
                              metadata={"description": "short device pseudonym"})


class LifecycleStepSchema(Schema):
    at = ma.fields.DateTime()
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    code_count = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String(allow_none=True)


class DossierRangeSchema(Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    lot = ma.fields.String(allow_none=True)
    expiry = ma.fields.Date(allow_none=True)
    quantity = ma.fields.Integer()
    market_regions = ma.fields.List(ma.fields.String())
    created_at = ma.fields.DateTime()


class TrailSchema(Schema):
    at = ma.fields.DateTime()
    action = ma.fields.String()
    by = ma.fields.String(allow_none=True)
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    assignee = ma.fields.String(allow_none=True)
    risk = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True)


class NoteSchema(Schema):
    at = ma.fields.DateTime()
    by = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


class CaseSchema(Schema):
    flag_id = ma.fields.Integer()
    status = ma.fields.String()
    assignee = ma.fields.String(allow_none=True)
    risk = ma.fields.Integer()
    raised_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    escalations = ma.fields.Integer()
    notes = ma.fields.List(ma.fields.Nested(NoteSchema))
    trail = ma.fields.List(ma.fields.Nested(TrailSchema))


class DossierInspectionSchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    finding = ma.fields.String()
    inspector = ma.fields.String(allow_none=True)
    province = ma.fields.String(allow_none=True)
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    place = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


class DossierSchema(Schema):
    serial = ma.fields.String()
    gtin = ma.fields.String()
    genuine = ma.fields.Boolean(metadata={"description": "signed by this service and inside "
                                          "an issued range"})
    code_status = ma.fields.String(
        allow_none=True, metadata={"description": "issued, printed, activated, voided or "
                                   "recalled (this code's own status); null if not genuine"})
    product = ma.fields.Dict(allow_none=True)
    range = ma.fields.Nested(DossierRangeSchema, allow_none=True)
    printer = ma.fields.Dict(allow_none=True)
    lifecycle = ma.fields.List(ma.fields.Nested(LifecycleStepSchema))
    risk = ma.fields.Integer()
    signals = ma.fields.List(ma.fields.Nested(SignalSchema))
    scan_count = ma.fields.Integer()
    scans_truncated = ma.fields.Boolean(
        metadata={"description": "true when only the newest 2000 scans are listed"})
    first_scan_at = ma.fields.DateTime(allow_none=True)
    last_scan_at = ma.fields.DateTime(allow_none=True)
    scans = ma.fields.List(ma.fields.Nested(DossierScanSchema))
    flag = ma.fields.Dict(allow_none=True)
    case = ma.fields.Nested(CaseSchema, allow_none=True)
    inspections = ma.fields.List(ma.fields.Nested(DossierInspectionSchema))
