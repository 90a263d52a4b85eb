"""Request and response shapes for ranges, keys and printer authorisations."""

import re

import marshmallow as ma

from ..extensions import Schema
from ..regions import PROVINCES
from .codec import ALPHABET
from .models import RANGE_STATUSES
from .service import MAX_PARTIAL_CODES, MAX_QUANTITY

# GS1's 82-character set for AI 10 (lot), less three characters a stamp cannot carry
# safely: "/" and "%" (web servers decode %2F and %25 before routing, so the resolver would
# see other path segments) and "?" (decoded, it would start the query). Upper-case
# letters and digits keep the whole URI in QR alphanumeric mode.
LOT_PATTERN = re.compile(r"^[!\"&-.0-9:;<=>A-Z_a-z]{1,20}$")
SERIAL_TEXT = ma.validate.Length(1, 40)


def _regions(values):
    unknown = [v for v in values if v not in PROVINCES]
    if unknown:
        raise ma.ValidationError(
            f"unknown province codes {unknown}; use the two-digit codes of the 34 units")


def _lot(value: str):
    if not LOT_PATTERN.match(value):
        raise ma.ValidationError(
            "a lot is 1 to 20 characters: letters, digits and !\"&'()*+,-.:;<=>_ (GS1's AI "
            "10 set without / % ?, which do not survive in a web address); upper-case "
            "letters and digits print the smallest QR")


class RangeCreateSchema(Schema):
    gtin = ma.fields.String(required=True, validate=ma.validate.Length(1, 14))
    quantity = ma.fields.Integer(required=True, strict=True,
                                 validate=ma.validate.Range(1, MAX_QUANTITY))
    lot = ma.fields.String(validate=_lot, allow_none=True)
    expiry = ma.fields.Date(format="%Y-%m-%d", allow_none=True,
                            metadata={"description": "YYYY-MM-DD"})
    market_regions = ma.fields.List(ma.fields.String(), validate=_regions,
                                    metadata={"description": "province codes; default: "
                                              "the product's"})
    pin = ma.fields.Boolean(load_default=False,
                            metadata={"description": "a scratch-off PIN per code"})
    printer_org_id = ma.fields.Integer(
        strict=True, allow_none=True,
        metadata={"description": "brand/admin only: the authorised printer that will print"})


class RangeQuerySchema(Schema):
    gtin = ma.fields.String(validate=ma.validate.Length(1, 14))
    status = ma.fields.String(validate=ma.validate.OneOf(RANGE_STATUSES))
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(1, 1000))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, 10**9))


class RangeSchema(Schema):
    id = ma.fields.Integer()
    gtin = ma.fields.String()
    product_id = ma.fields.Integer()
    lot = ma.fields.String(allow_none=True)
    expiry = ma.fields.Date(allow_none=True)
    quantity = ma.fields.Integer()
    status = ma.fields.String()
    market_regions = ma.fields.List(ma.fields.String())
    pin = ma.fields.Boolean(attribute="pin_enabled")
    brand_org_id = ma.fields.Integer()
    printer_org_id = ma.fields.Integer(allow_none=True)
    requested_by_org_id = ma.fields.Integer()
    key_id = ma.fields.Integer(metadata={"description": "the signing key of its serials"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    code_counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                                 metadata={"description": "codes per status (single range)"})
    links = ma.fields.Function(lambda r: {
        "self": f"/api/v1/ranges/{r.id}",
        "codes_csv": f"/api/v1/ranges/{r.id}/codes.csv",
        "codes_csv_sha256": f"/api/v1/ranges/{r.id}/codes.csv.sha256",
        "codes_txt": f"/api/v1/ranges/{r.id}/codes.txt",
        "labels_pdf": f"/api/v1/ranges/{r.id}/labels.pdf",
        "history": f"/api/v1/ranges/{r.id}/history",
    })


class TransitionSchema(Schema):
    serials = ma.fields.List(ma.fields.String(validate=SERIAL_TEXT),
                             validate=ma.validate.Length(1, MAX_PARTIAL_CODES),
                             metadata={"description": "act on these codes only"})
    from_serial = ma.fields.String(validate=SERIAL_TEXT,
                                   metadata={"description": "first code of a sub-range"})
    to_serial = ma.fields.String(validate=SERIAL_TEXT,
                                 metadata={"description": "last code of a sub-range "
                                           "(included; file order)"})
    reason = ma.fields.String(validate=ma.validate.Length(1, 500))


class TransitionRecordSchema(Schema):
    id = ma.fields.Integer()
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    code_count = ma.fields.Integer(allow_none=True,
                                   metadata={"description": "null: the whole range"})
    serials = ma.fields.List(ma.fields.String(), allow_none=True)
    reason = ma.fields.String(allow_none=True)
    actor_org_id = ma.fields.Integer()
    actor_key_id = ma.fields.Integer(allow_none=True)
    at = ma.fields.DateTime()


class QrQuerySchema(Schema):
    scale = ma.fields.Integer(validate=ma.validate.Range(1, 40),
                              metadata={"description": "pixels (PNG) or units (SVG) per "
                                        "module; a 4-module quiet zone is always added"})


class LabelQuerySchema(Schema):
    cols = ma.fields.Integer(load_default=4, validate=ma.validate.Range(1, 10))
    rows = ma.fields.Integer(load_default=10, validate=ma.validate.Range(1, 20))
    margin_mm = ma.fields.Float(load_default=10.0, validate=ma.validate.Range(0, 40))
    offset = ma.fields.Integer(load_default=0, validate=ma.validate.Range(0, MAX_QUANTITY))
    count = ma.fields.Integer(validate=ma.validate.Range(1, MAX_QUANTITY))


class SigningKeySchema(Schema):
    id = ma.fields.Integer()
    char = ma.fields.Function(lambda k: ALPHABET[k.id],
                              metadata={"description": "first character of its serials"})
    status = ma.fields.String()
    created_at = ma.fields.DateTime()
    retired_at = ma.fields.DateTime(allow_none=True)
    compromised_at = ma.fields.DateTime(allow_none=True)
    note = ma.fields.String(allow_none=True)


class KeyNoteSchema(Schema):
    note = ma.fields.String(validate=ma.validate.Length(1, 500))


class AuthorisationCreateSchema(Schema):
    printer_org_id = ma.fields.Integer(required=True, strict=True)
    product_id = ma.fields.Integer(strict=True,
                                   metadata={"description": "one product; default: all of "
                                             "the brand's products"})
    brand_org_id = ma.fields.Integer(strict=True, metadata={"description": "admin only"})


class AuthorisationSchema(Schema):
    id = ma.fields.Integer()
    brand_org_id = ma.fields.Integer()
    printer_org_id = ma.fields.Integer()
    printer = ma.fields.Function(lambda a: a.printer.name)
    product_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)


class AuthorisationQuerySchema(Schema):
    include_revoked = ma.fields.Boolean(load_default=False)
