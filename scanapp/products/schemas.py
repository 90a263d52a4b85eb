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


class ProductCreateSchema(Schema):
    gtin = ma.fields.String(required=True, validate=ma.validate.Length(1, 14))
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200),
                            metadata={"description": "Vietnamese name"})
    name_en = ma.fields.String(validate=ma.validate.Length(max=200))
    description_vi = ma.fields.String(validate=ma.validate.Length(max=5000))
    description_en = ma.fields.String(validate=ma.validate.Length(max=5000))
    image_url = ma.fields.URL(schemes={"http", "https"}, validate=ma.validate.Length(max=500))
    market_regions = ma.fields.List(ma.fields.String(), validate=_regions, load_default=list)
    brand_org_id = ma.fields.Integer(metadata={"description": "admin only: the owning brand"})


class ProductUpdateSchema(Schema):
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
    created_at = ma.fields.DateTime()
