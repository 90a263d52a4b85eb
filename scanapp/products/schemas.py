"""Product request and response shapes."""

import marshmallow as ma
from flask import current_app

from ..extensions import Schema
from ..regions import PROVINCES


def _regions(values):
    unknown = [v for v in values if v not in PROVINCES]
    if unknown:
        raise ma.ValidationError(
            f"unknown province codes {unknown}; use the two-digit codes of the 34 units")


class _TraceFacts(Schema):
    """What Circular 02/2024 shows of a product besides its name (items 9 and 10)."""

    standards = ma.fields.List(ma.fields.String(validate=ma.validate.Length(1, 100)),
                               validate=ma.validate.Length(max=30), metadata={
                                   "description": "standards applied: TCVN, QCVN, "
                                                  "international, company"})
    category = ma.fields.String(validate=ma.validate.Length(max=100), allow_none=True)
    country_of_origin = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Z]{2}$"),
                                         allow_none=True,
                                         metadata={"description": "ISO 3166-1 alpha-2"})
    unit = ma.fields.String(validate=ma.validate.Length(max=20), allow_none=True)
    shelf_life_days = ma.fields.Integer(validate=ma.validate.Range(1, 36500), allow_none=True)
    consumer_hotline = ma.fields.String(validate=ma.validate.Length(max=30), allow_none=True)


class ProductCreateSchema(_TraceFacts):
    gtin = ma.fields.String(required=True, validate=ma.validate.Length(1, 14))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200),
                            metadata={"description": "Vietnamese name"})
    name_en = ma.fields.String(validate=ma.validate.Length(max=200))
    description_vi = ma.fields.String(validate=ma.validate.Length(max=5000))
    description_en = ma.fields.String(validate=ma.validate.Length(max=5000))
    image_url = ma.fields.URL(schemes={"http", "https"}, validate=ma.validate.Length(max=500))
    market_regions = ma.fields.List(ma.fields.String(), validate=_regions, load_default=list)
    brand_org_id = ma.fields.Integer(metadata={"description": "admin only: the owning brand"})


class ProductUpdateSchema(_TraceFacts):
    name = ma.fields.String(validate=ma.validate.Length(1, 200))
    name_en = ma.fields.String(validate=ma.validate.Length(max=200), allow_none=True)
    description_vi = ma.fields.String(validate=ma.validate.Length(max=5000), allow_none=True)
    description_en = ma.fields.String(validate=ma.validate.Length(max=5000), allow_none=True)
    image_url = ma.fields.URL(schemes={"http", "https"}, allow_none=True,
                              validate=ma.validate.Length(max=500))
    market_regions = ma.fields.List(ma.fields.String(), validate=_regions)
    fraud_settings = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Float(allow_nan=False),
        metadata={"description": "fraud rule threshold overrides, each within its documented "
                                 "bounds (docs/FRAUD.md); flag_at may only be lowered"})

    @ma.validates("fraud_settings")
    def _settings_in_bounds(self, value, **_kwargs):
        # The fraud package owns the setting names and bounds; create_app hands its check
        # over (products must not import fraud, which depends on products).
        check = current_app.extensions.get("scanapp.fraud_settings_check")
        if check is None:
            return
        problems = {name: [f"{name} {problem}"] for name, v in value.items()
                    if (problem := check(name, v))}
        if problems:
            raise ma.ValidationError(problems)


class ProductSchema(Schema):
    id = ma.fields.Integer()
    gtin = ma.fields.String()
    brand_org_id = ma.fields.Integer()
    brand = ma.fields.Function(lambda p: p.brand.name)
    name = ma.fields.String()
    name_en = ma.fields.String(allow_none=True)
    description_vi = ma.fields.String(allow_none=True)
    description_en = ma.fields.String(allow_none=True)
    image_url = ma.fields.String(allow_none=True)
    market_regions = ma.fields.List(ma.fields.String())
    fraud_settings = ma.fields.Dict()
    standards = ma.fields.List(ma.fields.String())
    category = ma.fields.String(allow_none=True)
    country_of_origin = ma.fields.String(allow_none=True)
    unit = ma.fields.String(allow_none=True)
    shelf_life_days = ma.fields.Integer(allow_none=True)
    consumer_hotline = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
