"""Request and response shapes of the authority API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import Schema, validate

Str = ma.fields.String


class ReviewQuerySchema(Schema):
    state = Str(validate=validate.OneOf(("pending", "approved", "rejected")))


class ReviewLogSchema(Schema):
    at = ma.fields.DateTime()
    action = Str()
    actor_org_id = ma.fields.Integer(allow_none=True)
    note = Str(allow_none=True)


class ReviewItemSchema(Schema):
    id = ma.fields.Integer()
    subject_type = Str()
    subject_id = ma.fields.Integer()
    province = Str()
    org_id = ma.fields.Integer(allow_none=True)
    title = Str()
    state = Str()
    round = ma.fields.Integer()
    reason = Str(allow_none=True)
    answer = Str(allow_none=True)
    submitted_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)


class ReviewDetailSchema(ReviewItemSchema):
    history = ma.fields.List(ma.fields.Nested(ReviewLogSchema))


class ApproveSchema(Schema):
    note = Str(validate=validate.Length(max=2000))


class RejectSchema(Schema):
    reason = Str(required=True, validate=validate.Length(min=1, max=2000))


class AnswerSchema(Schema):
    answer = Str(required=True, validate=validate.Length(min=1, max=2000))


class PolicySchema(Schema):
    province = Str(validate=validate.Length(equal=2))
    review_enabled = ma.fields.Boolean()
    trusted_categories = ma.fields.List(Str(validate=validate.Length(max=100)),
                                        validate=validate.Length(max=100))
    targets = ma.fields.Dict(keys=Str(validate=validate.OneOf(
        ("firms_with_trace_pct", "traced_products_on_portal_pct"))),
        values=ma.fields.Float(validate=validate.Range(min=0, max=100)))
    plan = Str(allow_none=True, validate=validate.Length(max=200))


class FindingQuerySchema(Schema):
    state = Str(validate=validate.OneOf(("open", "dismissed", "case")))
    rule = Str()


class FindingSchema(Schema):
    id = ma.fields.Integer()
    rule = Str()
    province = Str(allow_none=True)
    subject_type = Str()
    subject_id = ma.fields.Integer(allow_none=True)
    gtin = Str(allow_none=True)
    org_id = ma.fields.Integer(allow_none=True)
    message_vi = Str()
    message_en = Str()
    details = ma.fields.Dict()
    state = Str()
    case_id = ma.fields.Integer(allow_none=True)
    found_at = ma.fields.DateTime()
    found_by = Str()


class FindingActionSchema(Schema):
    note = Str(validate=validate.Length(max=2000))


class PeriodSchema(Schema):
    start = ma.fields.Date(data_key="from")
    end = ma.fields.Date(data_key="to")
    province = Str(validate=validate.Length(equal=2))
