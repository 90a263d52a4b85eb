"""Request and response shapes of the trace API (inputs refuse unknown fields)."""

from __future__ import annotations

import marshmallow as ma

from ..extensions import Schema
from ..regions import PROVINCES
from .models import CERT_SCHEMES, CERT_SUBJECTS, LOCATION_KINDS

Str = ma.fields.String
Len = ma.validate.Length


def _province_name(code):
    province = PROVINCES.get(code or "")
    return province.name if province else None


# -- parties ------------------------------------------------------------------------------

class PartyCreateSchema(Schema):
    name = Str(required=True, validate=Len(1, 300), metadata={"description": "legal name"})
    tax_code = Str(validate=Len(10, 14), allow_none=True,
                   metadata={"description": "mã số thuế: 10 digits or 10 + '-' + 3"})
    gln = Str(validate=Len(13, 13), allow_none=True, metadata={"description": "GLN (AI 417)"})
    address = Str(validate=Len(max=500), allow_none=True)
    province = Str(validate=Len(2, 2), allow_none=True)
    contact_name = Str(validate=Len(max=200), allow_none=True)
    phone = Str(validate=Len(max=30), allow_none=True)
    email = ma.fields.Email(validate=Len(max=200), allow_none=True)
    org_id = ma.fields.Integer(metadata={"description": "admin only: the managing organisation"})


class PartyUpdateSchema(PartyCreateSchema):
    name = Str(validate=Len(1, 300))

    class Meta(Schema.Meta):
        exclude = ("org_id",)


class PartySchema(Schema):
    id = ma.fields.Integer()
    org_id = ma.fields.Integer(allow_none=True)
    name = Str()
    tax_code = Str(allow_none=True)
    gln = Str(allow_none=True)
    address = Str(allow_none=True)
    province = Str(allow_none=True)
    province_name = ma.fields.Function(lambda p: _province_name(p.province))
    contact_name = Str(allow_none=True)
    phone = Str(allow_none=True)
    email = Str(allow_none=True)


class PartyQuerySchema(Schema):
    gln = Str()
    tax_code = Str()


# -- locations ----------------------------------------------------------------------------

class LocationCreateSchema(Schema):
    gln = Str(required=True, validate=Len(13, 13), metadata={"description": "GLN (AI 414)"})
    extension = Str(validate=Len(max=20), allow_none=True,
                    metadata={"description": "GLN extension (AI 254)"})
    name = Str(required=True, validate=Len(1, 300))
    kind = Str(required=True, validate=ma.validate.OneOf(LOCATION_KINDS))
    planting_area_code = Str(validate=Len(max=50), allow_none=True,
                             metadata={"description": "mã số vùng trồng"})
    address = Str(validate=Len(max=500), allow_none=True)
    province = Str(validate=Len(2, 2), allow_none=True)
    lat = ma.fields.Float(validate=ma.validate.Range(-90, 90), allow_none=True)
    lon = ma.fields.Float(validate=ma.validate.Range(-180, 180), allow_none=True)
    party_id = ma.fields.Integer(metadata={"description": "owner party (default: your own)"})


class LocationUpdateSchema(LocationCreateSchema):
    gln = Str(validate=Len(13, 13))
    name = Str(validate=Len(1, 300))
    kind = Str(validate=ma.validate.OneOf(LOCATION_KINDS))

    class Meta(Schema.Meta):
        exclude = ("party_id",)


class LocationSchema(Schema):
    id = ma.fields.Integer()
    party_id = ma.fields.Integer()
    owner = ma.fields.Function(lambda loc: loc.party.name)
    gln = Str()
    extension = Str()
    name = Str()
    kind = Str()
    planting_area_code = Str(allow_none=True)
    address = Str(allow_none=True)
    province = Str(allow_none=True)
    province_name = ma.fields.Function(lambda loc: _province_name(loc.province))
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)


class GlnQuerySchema(Schema):
    gln = Str()


# -- certificates -------------------------------------------------------------------------

class CertificateCreateSchema(Schema):
    scheme = Str(required=True, validate=ma.validate.OneOf(list(CERT_SCHEMES)))
    stars = ma.fields.Integer(allow_none=True, metadata={"description": "OCOP: 3, 4 or 5"})
    number = Str(required=True, validate=Len(1, 100))
    issuer = Str(required=True, validate=Len(1, 300))
    subject_type = Str(required=True, validate=ma.validate.OneOf(CERT_SUBJECTS))
    subject_id = ma.fields.Integer(required=True)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(allow_none=True)
    document_url = ma.fields.URL(schemes={"http", "https"}, validate=Len(max=500),
                                 allow_none=True)


class RevokeSchema(Schema):
    reason = Str(required=True, validate=Len(1, 500))


class CertificateSchema(Schema):
    """``status`` is the state today: valid, expired, not_yet_valid or revoked."""

    id = ma.fields.Integer()
    scheme = Str()
    scheme_name = Str()
    stars = ma.fields.Integer(allow_none=True)
    number = Str()
    issuer = Str()
    subject_type = Str()
    subject_id = ma.fields.Integer()
    valid_from = Str()
    valid_to = Str(allow_none=True)
    document_url = Str(allow_none=True)
    status = Str()


class CertificateQuerySchema(Schema):
    subject_type = Str(validate=ma.validate.OneOf(CERT_SUBJECTS))
    subject_id = ma.fields.Integer()


# -- lots ---------------------------------------------------------------------------------

class LotCreateSchema(Schema):
    gtin = Str(required=True, validate=Len(8, 14))
    lot = Str(required=True, validate=Len(1, 20), metadata={"description": "AI 10"})
    production_date = ma.fields.Date(allow_none=True, metadata={"description": "AI 11"})
    harvest_start = ma.fields.Date(allow_none=True)
    harvest_end = ma.fields.Date(allow_none=True)
    expiry_date = ma.fields.Date(allow_none=True, metadata={"description": "AI 17"})
    best_before = ma.fields.Date(allow_none=True, metadata={"description": "AI 15"})
    quantity = ma.fields.Decimal(allow_none=True, as_string=False)
    unit = Str(validate=Len(1, 10), allow_none=True, metadata={"description": "e.g. KGM"})
    location_id = ma.fields.Integer(allow_none=True)


class LotUpdateSchema(Schema):
    production_date = ma.fields.Date(allow_none=True)
    harvest_start = ma.fields.Date(allow_none=True)
    harvest_end = ma.fields.Date(allow_none=True)
    expiry_date = ma.fields.Date(allow_none=True)
    best_before = ma.fields.Date(allow_none=True)
    quantity = ma.fields.Decimal(allow_none=True)
    unit = Str(validate=Len(1, 10), allow_none=True)
    status = Str(validate=ma.validate.OneOf(("active", "on_hold")))


class LotSchema(Schema):
    id = ma.fields.Integer()
    gtin = Str()
    lot = Str()
    product = ma.fields.Function(lambda lot: lot.product.name)
    production_date = ma.fields.Date(allow_none=True)
    harvest_start = ma.fields.Date(allow_none=True)
    harvest_end = ma.fields.Date(allow_none=True)
    expiry_date = ma.fields.Date(allow_none=True)
    best_before = ma.fields.Date(allow_none=True)
    quantity = ma.fields.Float(allow_none=True)
    unit = Str(allow_none=True)
    location_id = ma.fields.Integer(allow_none=True)
    party_id = ma.fields.Integer(allow_none=True)
    status = Str()
    recall_reason = Str(allow_none=True)
    recalled_at = ma.fields.DateTime(allow_none=True)


class LotQuerySchema(Schema):
    gtin = Str()
    lot = Str(validate=Len(1, 20))
    status = Str(validate=ma.validate.OneOf(("active", "on_hold", "recalled")))


# -- partners -----------------------------------------------------------------------------

class PartnerCreateSchema(Schema):
    partner_org_id = ma.fields.Integer(required=True)
    gtin = Str(validate=Len(8, 14), metadata={"description": "one product (default: all)"})


class PartnerSchema(Schema):
    id = ma.fields.Integer()
    brand_org_id = ma.fields.Integer()
    partner_org_id = ma.fields.Integer()
    product_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()


# -- the clerk's events ---------------------------------------------------------------------

class LotQuantitySchema(Schema):
    gtin = Str(required=True, validate=Len(8, 14))
    lot = Str(required=True, validate=Len(1, 20))
    quantity = ma.fields.Decimal(required=True, metadata={"description": "more than zero"})
    unit = Str(validate=Len(1, 10), load_default="KGM",
               metadata={"description": "UN/ECE rec. 20 code: KGM, TNE, H87 (pieces), ..."})


class OutputLotSchema(LotQuantitySchema):
    production_date = ma.fields.Date()
    expiry_date = ma.fields.Date()
    best_before = ma.fields.Date()


class _EventBase(Schema):
    event_time = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "when it happened (default: now)"})
    location_id = ma.fields.Integer(required=True,
                                    metadata={"description": "where (one of your locations)"})


class HarvestSchema(_EventBase):
    gtin = Str(required=True, validate=Len(8, 14))
    lot = Str(required=True, validate=Len(1, 20))
    quantity = ma.fields.Decimal(required=True)
    unit = Str(validate=Len(1, 10), load_default="KGM")
    harvest_start = ma.fields.Date()
    harvest_end = ma.fields.Date()
    production_date = ma.fields.Date()
    expiry_date = ma.fields.Date()
    best_before = ma.fields.Date()
    country_of_origin = Str(validate=Len(2, 2), load_default="VN")


class TransformationSchema(_EventBase):
    step = Str(validate=ma.validate.OneOf(("processing", "packing", "repackaging")),
               load_default="processing")
    inputs = ma.fields.List(ma.fields.Nested(LotQuantitySchema), required=True,
                            validate=Len(1, 200))
    outputs = ma.fields.List(ma.fields.Nested(OutputLotSchema), required=True,
                             validate=Len(1, 200))
    production_date = ma.fields.Date()
    expiry_date = ma.fields.Date()
    best_before = ma.fields.Date()
    transformation_id = Str(validate=Len(1, 200))


class PackingSchema(_EventBase):
    sscc = Str(required=True, validate=Len(18, 18),
               metadata={"description": "the pallet or case (SSCC, AI 00)"})
    items = ma.fields.List(ma.fields.Nested(LotQuantitySchema), required=True,
                           validate=Len(1, 200))


class ShipmentSchema(_EventBase):
    items = ma.fields.List(ma.fields.Nested(LotQuantitySchema), required=True,
                           validate=Len(1, 200))
    to_party_id = ma.fields.Integer()
    to_location_id = ma.fields.Integer()
    document = Str(validate=Len(1, 100),
                   metadata={"description": "dispatch document (phiếu xuất kho) number"})


class ReceiptSchema(_EventBase):
    items = ma.fields.List(ma.fields.Nested(LotQuantitySchema), required=True,
                           validate=Len(1, 200))
    from_party_id = ma.fields.Integer()
    from_location_id = ma.fields.Integer()
    document = Str(validate=Len(1, 100))


class InspectionEventSchema(_EventBase):
    items = ma.fields.List(ma.fields.Nested(LotQuantitySchema), required=True,
                           validate=Len(1, 200))
    result = Str(required=True, validate=ma.validate.OneOf(("pass", "fail")))
    note = Str(validate=Len(max=1000))
    document = Str(validate=Len(1, 100), metadata={"description": "test report number"})


class RecordedEventSchema(ma.Schema):
    event_id = Str()
    already_stored = ma.fields.Boolean()
    event = ma.fields.Dict()


# -- trace queries and recall ---------------------------------------------------------------

class RecallSchema(Schema):
    reason = Str(required=True, validate=Len(1, 500))


class ExportQuerySchema(Schema):
    format = Str(validate=ma.validate.OneOf(("csv", "xlsx")), load_default="csv")
    direction = Str(validate=ma.validate.OneOf(("backward", "forward", "both")),
                    load_default="both")


class TraceDocumentSchema(ma.Schema):
    """A trace document (shape in docs/TRACEABILITY.md), passed through as built."""

    class Meta:
        unknown = ma.INCLUDE

    def dump(self, obj, *, many=None):  # the service builds plain JSON already
        return obj
