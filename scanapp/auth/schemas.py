"""Request and response shapes for keys and organisations."""

import marshmallow as ma

from ..extensions import Schema
from .models import Role

ROLE_VALUES = [r.value for r in Role]


class KeyCreateSchema(Schema):
    org = ma.fields.String(required=True, validate=ma.validate.Length(1, 200),
                           metadata={"description": "organisation name; created if new"})
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLE_VALUES))
    label = ma.fields.String(validate=ma.validate.Length(max=200))
    province = ma.fields.String(
        validate=ma.validate.Length(1, 20),
        metadata={"description": "authority keys only, and required for them: the province "
                                 "code it supervises (e.g. '33'), or 'all' for nationwide"})


class KeySchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    prefix = ma.fields.String(dump_only=True)
    role = ma.fields.Function(lambda k: k.role.value, dump_only=True)
    org = ma.fields.Function(lambda k: k.organisation.name, dump_only=True)
    # A brand authorises a printer by this id (POST /api/v1/printer-authorisations).
    org_id = ma.fields.Integer(dump_only=True)
    label = ma.fields.String(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    revoked_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class NewKeySchema(KeySchema):
    key = ma.fields.String(dump_only=True,
                           metadata={"description": "the key itself; shown only this once"})


class PrincipalSchema(Schema):
    key_id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    org_name = ma.fields.String()
    role = ma.fields.Function(lambda p: p.role.value)


class OrgSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    gs1_prefixes = ma.fields.Function(lambda org: list(org.gs1_prefixes or []),
                                      dump_only=True,
                                      metadata={"type": "array", "items": {"type": "string"}})
    created_at = ma.fields.DateTime(dump_only=True)


class Gs1PrefixesSchema(Schema):
    prefixes = ma.fields.List(
        ma.fields.String(validate=ma.validate.Regexp(
            r"^[0-9]{6,12}$", error="a GS1 company prefix is 6 to 12 digits")),
        required=True, validate=ma.validate.Length(max=50),
        metadata={"description": "GTIN-13 form, e.g. 893850450; an empty list clears them"})
