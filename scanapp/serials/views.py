"""Range, download, QR/label, signing-key and printer-authorisation endpoints."""

from __future__ import annotations

import flask
from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView

from ..auth.access import ALL_ROLES, current_principal, requires
from ..auth.models import Role
from ..db import get_session
from ..errors import InvalidInput, NotFound
from ..extensions import Blueprint
from ..products.models import Product
from ..quotas import spend_downloads
from . import authorisations, downloads, keys, qr, service
from .cli import serials_cli
from .codec import InvalidSerial, get_codec
from .schemas import (
    AuthorisationCreateSchema,
    AuthorisationQuerySchema,
    AuthorisationSchema,
    KeyNoteSchema,
    LabelQuerySchema,
    QrQuerySchema,
    RangeCreateSchema,
    RangeQuerySchema,
    RangeSchema,
    SigningKeySchema,
    TransitionRecordSchema,
    TransitionSchema,
)
from .stamps import stamp_uri

blp = Blueprint("serials", __name__, url_prefix="/api/v1",
                description="Stamp ranges for printers: issue, download, print, activate, "
                            "void, recall; signing keys; printer authorisations")

READERS = ALL_ROLES
# The codes (and PINs) are the stamps themselves: whoever holds them can print stamps that
# scan as genuine. Inspectors see ranges and their history, but download nothing.
DOWNLOADERS = (Role.PRINTER, Role.BRAND, Role.ADMIN)

# `flask --app scanapp serials ...`: Flask adds a blueprint's commands under its name.
for _command in serials_cli.commands.values():
    blp.cli.add_command(_command)
# ... and the benchmark also as `flask --app scanapp bench-serials`.
_top_level_commands = flask.Blueprint("serials_commands", __name__, cli_group=None)
_top_level_commands.cli.add_command(serials_cli.commands["bench"], "bench-serials")
PLAIN_BLUEPRINTS = (_top_level_commands,)
MAX_IDEMPOTENCY_KEY = 200


def _idempotency_key() -> str | None:
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    value = value.strip()
    if not 1 <= len(value) <= MAX_IDEMPOTENCY_KEY or not value.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable "
                           "characters", code="invalid_idempotency_key")
    return value


@blp.route("/ranges")
class Ranges(MethodView):
    @requires(*READERS)
    @blp.arguments(RangeQuerySchema, location="query")
    @blp.response(200, RangeSchema(many=True))
    def get(self, query):
        """List ranges: a printer its own, a brand its products', admin and inspector all"""
        return service.list_ranges(get_session(), current_principal(), **query)

    @requires(*service.ISSUERS)
    @blp.arguments(RangeCreateSchema)
    @blp.response(201, RangeSchema)
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": False,
                          "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
                          "description": "a retry with the same key and body returns the "
                                         "same range; a different body is refused (409)"}])
    def post(self, data):
        """Issue a range of stamp codes (one row, any size up to 10,000,000)"""
        issued, created = service.issue_range(get_session(), current_principal(), data,
                                              _idempotency_key())
        headers = {"Location": f"/api/v1/ranges/{issued.id}"}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return issued, 201, headers


@blp.route("/ranges/<int:range_id>")
class RangeItem(MethodView):
    @requires(*READERS)
    @blp.response(200, RangeSchema)
    def get(self, range_id: int):
        """One range, with how many of its codes are in each status"""
        session = get_session()
        target = service.get_range(session, current_principal(), range_id)
        target.code_counts = service.code_counts(session, target)
        return target


@blp.route("/ranges/<int:range_id>/history")
class RangeHistory(MethodView):
    @requires(*READERS)
    @blp.response(200, TransitionRecordSchema(many=True))
    def get(self, range_id: int):
        """Every lifecycle step of a range: what, who and when"""
        return service.history(get_session(), current_principal(), range_id)


@blp.route("/ranges/<int:range_id>/<any(print, activate, void, recall):action>")
class RangeStep(MethodView):
    @requires(Role.PRINTER, Role.BRAND, Role.ADMIN)
    @blp.arguments(TransitionSchema(), required=False)
    @blp.response(200, RangeSchema)
    def post(self, data, range_id: int, action: str):
        """Move the range, a sub-range or single serials along the lifecycle

        issued -> printed -> activated; void (issued/printed/activated) and recall
        (activated) are final. Invalid steps answer 409 with the reason.
        """
        session = get_session()
        target = service.transition(session, current_principal(), range_id, action,
                                    data or {})
        target.code_counts = service.code_counts(session, target)
        return target


def _download_headers(target, fmt: str, name: str, content_type: str) -> dict:
    return {"Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}"',
            "ETag": f'"{downloads.etag(target, fmt)}"',
            "X-Checksum-URL": f"/api/v1/ranges/{target.id}/codes.{fmt}.sha256",
            "Content-Length": str(downloads.content_length(target, fmt)),
            "X-Code-Count": str(target.quantity),
            "Cache-Control": "private, no-store"}


@blp.route("/ranges/<int:range_id>/codes.<any(csv, txt):fmt>")
class RangeCodes(MethodView):
    @requires(*DOWNLOADERS)
    @blp.doc(responses={"200": {"description": "the codes, streamed",
                                "content": {"text/csv": {}, "text/plain": {}}}})
    def get(self, range_id: int, fmt: str):
        """Download every code of a range: CSV (serial,uri[,pin]) or text (one URI a line)

        Streamed; the SHA-256 of the file is at the same URL plus ``.sha256``.
        """
        target = service.range_to_work_on(get_session(), current_principal(), range_id)
        etag = downloads.etag(target, fmt)
        if request.if_none_match.contains(etag):
            return Response(status=304, headers={"ETag": f'"{etag}"'})
        content_type = "text/csv; charset=utf-8" if fmt == "csv" else "text/plain; charset=utf-8"
        spend_downloads(current_principal().org_id, target.quantity)
        app = current_app._get_current_object()
        body = stream_with_context(downloads.recording_chunks(target, fmt, app=app))
        return Response(body, headers=_download_headers(
            target, fmt, downloads.filename(target, fmt), content_type))


@blp.route("/ranges/<int:range_id>/codes.<any(csv, txt):fmt>.sha256")
class RangeCodesChecksum(MethodView):
    @requires(*DOWNLOADERS)
    @blp.doc(responses={"200": {"description": "`<sha256 hex>  <filename>`",
                                "content": {"text/plain": {}}}})
    def get(self, range_id: int, fmt: str):
        """SHA-256 of a range's code file, in `sha256sum -c` format"""
        target = service.range_to_work_on(get_session(), current_principal(), range_id)
        name = downloads.filename(target, fmt)
        line = f"{downloads.checksum(target, fmt)}  {name}\n"
        return Response(line, mimetype="text/plain",
                        headers={"Content-Disposition": f'inline; filename="{name}.sha256"'})


def _serial_uri(range_id: int, serial: str):
    target = service.range_to_work_on(get_session(), current_principal(), range_id)
    try:
        seq = get_codec().verify(serial, target.gtin, target.lot)
    except InvalidSerial:
        seq = None
    if seq is None or not target.start_seq <= seq < target.end_seq:
        raise NotFound(f"range {range_id} has no serial {serial!r}", code="unknown_serial")
    base = current_app.config["PUBLIC_BASE_URL"]
    return stamp_uri(base, target.gtin, serial, target.lot, target.expiry)


@blp.route("/ranges/<int:range_id>/codes/<string:serial>/qr.<any(svg, png):fmt>")
class CodeQr(MethodView):
    @requires(*DOWNLOADERS)
    @blp.arguments(QrQuerySchema, location="query")
    @blp.doc(responses={"200": {"description": "the stamp's QR code",
                                "content": {"image/svg+xml": {}, "image/png": {}}}})
    def get(self, query, range_id: int, serial: str, fmt: str):
        """The QR code of one stamp, as SVG or PNG"""
        uri = _serial_uri(range_id, serial)
        spend_downloads(current_principal().org_id, 1)
        if fmt == "svg":
            image, mimetype = qr.svg(uri, scale=query.get("scale", 4)), "image/svg+xml"
        else:
            image, mimetype = qr.png(uri, scale=query.get("scale", 8)), "image/png"
        return Response(image, mimetype=mimetype, headers={
            "Content-Disposition": f'inline; filename="{serial}.{fmt}"',
            "Cache-Control": "private, max-age=86400"})


@blp.route("/ranges/<int:range_id>/labels.pdf")
class RangeLabels(MethodView):
    @requires(*DOWNLOADERS)
    @blp.arguments(LabelQuerySchema, location="query")
    @blp.doc(responses={"200": {"description": "A4 label sheets",
                                "content": {"application/pdf": {}}}})
    def get(self, query, range_id: int):
        """Print-ready A4 label sheets (QR + serial) for small runs and proofs

        At most 2,000 labels per PDF: pick a part with `offset` and `count`, or use
        codes.csv with the printing software for bigger runs.
        """
        target = service.range_to_work_on(get_session(), current_principal(), range_id)
        offset = query["offset"]
        if offset >= target.quantity:
            raise InvalidInput(f"offset {offset} is past the end of the range "
                               f"({target.quantity} codes)", code="offset_out_of_range")
        count = query.get("count", target.quantity - offset)
        count = min(count, target.quantity - offset)
        if count > qr.MAX_LABELS:
            raise InvalidInput(
                f"a label PDF holds at most {qr.MAX_LABELS} labels and this asks for "
                f"{count}; use offset and count to take part of the range, or "
                "codes.csv for a full run", code="too_many_labels")
        spend_downloads(current_principal().org_id, count)
        app = current_app._get_current_object()
        codec = get_codec(app)
        encoder = codec.range_encoder(target.gtin, target.lot, target.key_id)
        base = app.config["PUBLIC_BASE_URL"]
        first = target.start_seq + offset
        labels = [(serial, stamp_uri(base, target.gtin, serial, target.lot, target.expiry))
                  for _seq, serial in encoder.serials(first, first + count)]
        product = get_session().get(Product, target.product_id)
        pdf = qr.label_sheet(labels, query["cols"], query["rows"], query["margin_mm"],
                             title=f"scanapp range {target.id} labels",
                             product_name=product.name if product else None,
                             lot=target.lot, expiry=target.expiry, pin=target.pin_enabled)
        name = downloads.filename(target, "pdf").replace(".pdf", f"-labels-{offset}.pdf")
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- signing keys (admin) ---------------------------------------------------------------
@blp.route("/signing-keys")
class SigningKeys(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, SigningKeySchema(many=True))
    def get(self):
        """List serial signing keys (admin)"""
        return keys.list_keys(get_session())


@blp.route("/signing-keys/rotate")
class RotateKey(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(KeyNoteSchema(), required=False)
    @blp.response(201, SigningKeySchema)
    def post(self, data):
        """Retire the active key and start signing with a new one; old serials still verify"""
        return keys.rotate(get_session(), (data or {}).get("note"))


@blp.route("/signing-keys/<int:key_id>/compromise")
class CompromiseKey(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(KeyNoteSchema(), required=False)
    @blp.response(200, SigningKeySchema)
    def post(self, data, key_id: int):
        """Mark a key compromised: its serials fail verification with reason compromised_key"""
        return keys.compromise(get_session(), key_id, (data or {}).get("note"))


# -- printer authorisations -------------------------------------------------------------
@blp.route("/printer-authorisations")
class Authorisations(MethodView):
    @requires(Role.BRAND, Role.PRINTER, Role.ADMIN)
    @blp.arguments(AuthorisationQuerySchema, location="query")
    @blp.response(200, AuthorisationSchema(many=True))
    def get(self, query):
        """A brand's grants to printers, or a printer's grants from brands"""
        return authorisations.list_authorisations(get_session(), current_principal(),
                                                  query["include_revoked"])

    @requires(Role.BRAND, Role.ADMIN)
    @blp.arguments(AuthorisationCreateSchema)
    @blp.response(201, AuthorisationSchema)
    def post(self, data):
        """Let a printer print the brand's products (all, or one with product_id)"""
        return authorisations.authorise(get_session(), current_principal(), data)


@blp.route("/printer-authorisations/<int:authorisation_id>/revoke")
class RevokeAuthorisation(MethodView):
    @requires(Role.BRAND, Role.ADMIN)
    @blp.response(200, AuthorisationSchema)
    def post(self, authorisation_id: int):
        """Stop a printer from issuing new ranges (issued ones stay valid)"""
        return authorisations.revoke(get_session(), current_principal(), authorisation_id)
