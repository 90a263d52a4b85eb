"""Request and response bodies of the scan API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..extensions import Schema


class ScanIn(Schema):
    code = ma.fields.String(required=True, validate=validate.Length(1, 2048),
                            metadata={"description": "the stamp URI as scanned"})
    lat = ma.fields.Float(validate=validate.Range(-90, 90), allow_none=True)
    lon = ma.fields.Float(validate=validate.Range(-180, 180), allow_none=True)
    accuracy_m = ma.fields.Float(validate=validate.Range(0, 1_000_000), allow_none=True)
    device_id = ma.fields.String(validate=validate.Length(1, 128), allow_none=True,
                                 metadata={"description": "app-chosen stable id; stored hashed"})
    source = ma.fields.String(load_default="api", validate=validate.OneOf(["consumer", "api"]),
                              metadata={"description": "consumer (the stamp page) or api"})

    @ma.validates_schema
    def _both_coordinates(self, data, **_kwargs):
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ma.ValidationError("give both lat and lon, or neither", "lat")


class PlaceOut(ma.Schema):
    at = ma.fields.String()
    province = ma.fields.String(allow_none=True)
    province_name = ma.fields.String(allow_none=True)
    province_name_en = ma.fields.String(allow_none=True)


class ProductOut(ma.Schema):
    gtin = ma.fields.String()
    name = ma.fields.String()
    name_en = ma.fields.String(allow_none=True)
    brand = ma.fields.String()
    image_url = ma.fields.String(allow_none=True)


VERDICTS = ["authentic", "suspicious", "not_activated", "voided", "recalled", "counterfeit"]


class ScanOut(ma.Schema):
    verdict = ma.fields.String(validate=validate.OneOf(VERDICTS))
    reasons = ma.fields.List(ma.fields.String())
    scan_count = ma.fields.Integer(allow_none=True,
                                   metadata={"description": "scans of this code so far, this "
                                             "one included; null for counterfeit codes"})
    device_count = ma.fields.Integer(allow_none=True)
    first_scan = ma.fields.Nested(PlaceOut, allow_none=True)
    last_scan = ma.fields.Nested(PlaceOut, allow_none=True,
                                 metadata={"description": "the scan before this one"})
    repeat = ma.fields.Boolean(metadata={"description": "a reload inside the reload window: "
                                         "not counted again"})
    degraded = ma.fields.Boolean()
    risk = ma.fields.Integer()
    product = ma.fields.Nested(ProductOut, allow_none=True)
    gtin = ma.fields.String()
    lot = ma.fields.String(allow_none=True)
    serial = ma.fields.String()
    expiry = ma.fields.String(allow_none=True)
    expired = ma.fields.Boolean()
    pin_enabled = ma.fields.Boolean()
    trace = ma.fields.Dict(allow_none=True, metadata={
        "description": "the lot's origin: producer, origin place, dates, certificates valid "
                       "today, recall (null when the lot has no trace record); "
                       "see docs/TRACEABILITY.md"})


class PinIn(Schema):
    code = ma.fields.String(required=True, validate=validate.Length(1, 2048))
    pin = ma.fields.String(required=True, validate=[
        validate.Length(4, 20), validate.Regexp(r"^[0-9 -]+$", error="digits only")])
    device_id = ma.fields.String(validate=validate.Length(1, 128), allow_none=True)


class PinOut(ma.Schema):
    result = ma.fields.String(validate=validate.OneOf(
        ["valid", "already_claimed", "wrong_pin", "counterfeit"]))
    pin_claims = ma.fields.Integer(metadata={"description": "correct PIN entries so far"})
    pin_failures = ma.fields.Integer()
    degraded = ma.fields.Boolean()
    risk = ma.fields.Integer(metadata={"description": "the code's risk judged at this check"})
    reasons = ma.fields.List(ma.fields.String(), metadata={
        "description": "fraud signals at this check, strongest first"})
