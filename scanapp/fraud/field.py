"""In the field and in court: the inspectors' pages for recording a field inspection, checking
a stamp as an inspector, and the evidence PDF with its verify page (``/inspect/...``).

Same sign-in and CSRF rules as the dashboard (``dashboard.require_sign_in``):
an inspector's or admin's server-side session; every POST carries the form's token.

- ``GET /inspect/inspections/new`` (``?serial=&lat=&lon=`` prefill), ``POST /inspect/
  inspections``: the form (place from the phone's location by ``field.js``, a same-origin
  script; latitude/longitude typed otherwise), finding, notes, photos (JPEG/PNG, judged by
  content, re-encoded without EXIF/GPS by ``scanapp.photos``). Everything is checked before
  anything is stored, then the inspection and its photos are stored in one transaction
  (``flags.record_inspection``): a bad photo stores nothing.
- ``GET|POST /inspect/check``: a stamp photographed (its QR decoded on the server with
  zxing-cpp) or typed, verified by the scan service with source ``inspector`` and the exact
  position kept (consumers' positions are rounded; an inspector's is evidence).
- ``GET /inspect/codes/<serial>/evidence``, ``POST .../evidence.pdf``: the dossier as a
  printable PDF (``evidence``), ``GET|POST /inspect/evidence/verify``: check a printed copy.

Language: ``?lang=vi|en`` (kept in the session like the dashboard's switch), else the
session's, else Vietnamese. Words live in ``evidence_text``.
"""

from __future__ import annotations

import math

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from ..db import get_session, utcnow
from ..errors import DomainError, InvalidInput, NotFound, PayloadTooLarge, status_for
from ..photos import MAX_BYTES, Photo, PhotoRejected, clean_photo
from ..regions import PROVINCES, default_locator
from ..scan import service as scan_service
from ..scan.page_text import OUTCOMES
from ..scan.page_text import TEXT as PAGE_TEXT
from ..scan.pages import explain, outcome_of
from ..serials.codec import ALPHABET, SERIAL_LENGTH
from . import evidence
from . import flags as flag_service
from .dashboard import no_store, require_sign_in
from .dossier import identify_unscanned
from .evidence_text import LANGS, TEXT
from .models import FieldInspection, InspectionPhoto

field_bp = Blueprint("field", __name__, url_prefix="/inspect", template_folder="templates",
                     static_folder="field_static", static_url_path="/field/static")

MAX_PHOTOS = 4
# Inspection photos: what a phone camera or a screenshot gives (WebP/GIF are not evidence).
PHOTO_TYPES = frozenset({"JPEG", "MPO", "PNG"})
# Every photo at its limit plus the form: a bigger body is refused before it is read.
INSPECTION_BODY_LIMIT = MAX_PHOTOS * MAX_BYTES + 1024 * 1024
CHECK_BODY_LIMIT = MAX_BYTES + 64 * 1024
LIMITS = {"note": 5000, "place": 300, "code": 512}


@field_bp.record_once
def _body_limits(state) -> None:
    limits = state.app.config.setdefault("BODY_LIMITS", {})
    limits.setdefault("field.save_inspection", INSPECTION_BODY_LIMIT)
    limits.setdefault("field.check", CHECK_BODY_LIMIT)
    limits.setdefault("field.verify", evidence.MAX_PDF_BYTES + 64 * 1024)


# -- language, sign-in, errors ---------------------------------------------------------------


def field_lang() -> str:
    asked = request.args.get("lang")
    if asked in LANGS:
        session["lang"] = asked
        return asked
    kept = session.get("lang")
    return kept if kept in LANGS else "vi"


def _text() -> dict:
    return TEXT[field_lang()]


def _error_message(code: str | None, params: dict | None = None, fallback: str = "") -> str:
    """The message of an error code in the page's language. An unknown code: the service's
    (English) message on an English page, the generic sentence on a Vietnamese one."""
    table = _text()["errors"]
    if field_lang() != "en":
        fallback = ""
    template = table.get(code or "") or fallback or table["generic"]
    defaults = {"mb": MAX_BYTES // (1024 * 1024), "n": MAX_PHOTOS}
    try:
        return template.format(**{**defaults, **(params or {})})
    except (KeyError, IndexError):
        return template


@field_bp.before_request
def _require_sign_in():
    return require_sign_in("field.static")


@field_bp.after_request
def _no_store(response: Response) -> Response:
    return no_store(response, "field.static")


def _error_page(message: str, status: int):
    return render_template("inspect/field_error.html", ft=_text(), flang=field_lang(),
                           message=message), status


@field_bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    code = "payload_too_large" if isinstance(exc, PayloadTooLarge) else exc.code
    return _error_page(_error_message(code, fallback=exc.message), status_for(exc))


@field_bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return _error_page(_error_message("payload_too_large"), 413)


# -- reading the forms -----------------------------------------------------------------------


def _float(form, name: str, low: float, high: float, problems: dict, code: str):
    raw = (form.get(name) or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        problems[name] = (code, {})
        return None
    return value


def _position(form, problems: dict) -> tuple[float | None, float | None, float | None]:
    lat = _float(form, "lat", -90, 90, problems, "lat_range")
    lon = _float(form, "lon", -180, 180, problems, "lon_range")
    accuracy = _float(form, "accuracy_m", 0, 1_000_000, {}, "")
    if "lat" not in problems and "lon" not in problems and (lat is None) != (lon is None):
        problems["lat"] = ("incomplete_position", {})
    return lat, lon, accuracy


def _code(raw: str) -> tuple[str | None, str | None]:
    """(serial, gtin) from a typed serial or a stamp's URL; (None, None) if neither."""
    text = (raw or "").strip()
    if not text:
        return None, None
    upper = text.upper()
    if len(upper) == SERIAL_LENGTH and all(ch in ALPHABET for ch in upper):
        return upper, None
    from ..scan.uri import parse_scanned

    try:
        ref = parse_scanned(text)
    except DomainError:
        return None, None
    return ref.serial.upper(), ref.gtin


def _text_field(form, name: str, problems: dict) -> str | None:
    value = (form.get(name) or "").strip()
    if "\x00" in value:
        value = value.replace("\x00", "")
    if len(value) > LIMITS[name]:
        problems[name] = ("too_long", {"field": _text()["fields"][name], "n": LIMITS[name]})
    return value or None


def _photos(files, problems: dict) -> list[Photo]:
    uploads = [f for f in files.getlist("photos") if f and f.filename]
    if len(uploads) > MAX_PHOTOS:
        problems["photos"] = ("too_many_photos", {"n": MAX_PHOTOS})
        return []
    cleaned = []
    for upload in uploads:
        raw = upload.read(MAX_BYTES + 1)
        upload.close()
        try:
            cleaned.append(clean_photo(raw, PHOTO_TYPES))
        except PhotoRejected as exc:
            problems["photos"] = ("photo_too_large" if exc.code == "photo_too_large"
                                  else "invalid_photo", {"name": upload.filename})
            return []
    return cleaned


# -- record a field inspection ----------------------------------------------------------------


def _inspection_form(values: dict, problems: dict | None = None, status: int = 200):
    text = _text()
    errors = {field: _error_message(code, params)
              for field, (code, params) in (problems or {}).items()}
    return render_template(
        "inspect/inspection.html", ft=text, flang=field_lang(), values=values, errors=errors,
        findings=flag_service.FINDINGS, max_photos=MAX_PHOTOS,
        max_mb=MAX_BYTES // (1024 * 1024), saved=None), status


@field_bp.get("/inspections/new")
def new_inspection():
    values = {k: request.args.get(k, "") for k in ("serial", "lat", "lon", "place")}
    return _inspection_form(values)


@field_bp.post("/inspections")
def save_inspection():
    form = request.form
    problems: dict[str, tuple[str, dict]] = {}
    serial, gtin = _code(form.get("serial", ""))
    if not (form.get("serial") or "").strip():
        problems["serial"] = ("code_required", {})
    elif serial is None:
        problems["serial"] = ("invalid_code", {})
    typed_gtin = (form.get("gtin") or "").strip()
    if typed_gtin:
        from ..gs1 import normalize_gtin

        try:
            gtin = normalize_gtin(typed_gtin)
        except DomainError:
            problems["gtin"] = ("invalid_gtin", {})
    finding = form.get("finding", "")
    if finding not in flag_service.FINDINGS:
        problems["finding"] = ("unknown_finding", {})
    lat, lon, _accuracy = _position(form, problems)
    note = _text_field(form, "note", problems)
    place = _text_field(form, "place", problems)
    # Photos last, and only when the rest is right: a wrong field costs no decoding.
    photos = _photos(request.files, problems) if not problems else []
    if problems:
        if "photos" not in problems and any(f.filename for f in request.files.getlist(
                "photos")):
            # A browser never keeps chosen files when the form comes back: say so.
            problems["photos"] = ("photos_again", {})
        return _inspection_form(form.to_dict(), problems, 422)
    data = {"serial": serial, "finding": finding, "lat": lat, "lon": lon, "note": note,
            "place": place}
    if not gtin:
        # A genuine code nobody scanned yet names its own GTIN (its signature and range).
        identified = identify_unscanned(serial)
        gtin = identified[0] if identified else None
    if gtin:
        data["gtin"] = gtin
    db = get_session()
    try:
        inspection = flag_service.record_inspection(db, g.inspector, data, photos)
    except InvalidInput as exc:
        db.rollback()
        field = {"gtin_required": "gtin", "incomplete_position": "lat",
                 "unknown_finding": "finding"}.get(exc.code, "serial")
        return _inspection_form(form.to_dict(), {field: (exc.code, {})}, 422)
    return redirect(url_for("field.inspection", inspection_id=inspection.id, saved=1))


@field_bp.get("/inspections/<int:inspection_id>")
def inspection(inspection_id: int):
    db = get_session()
    found = db.get(FieldInspection, inspection_id)
    if found is None:
        raise NotFound(f"no inspection {inspection_id}", code="not_found")
    photos = flag_service.inspection_photos(db, [found.id]).get(found.id, [])
    inspector = flag_service.org_names(db, [found.inspector_org_id]).get(
        found.inspector_org_id)
    province = PROVINCES.get(found.province or "")
    return render_template(
        "inspect/inspection.html", ft=_text(), flang=field_lang(), saved=found,
        just_saved=request.args.get("saved") == "1", photos=photos, inspector=inspector,
        province=province.name if province else None, vn_time=evidence.vn_time,
        values={}, errors={}, findings=flag_service.FINDINGS, max_photos=MAX_PHOTOS,
        max_mb=MAX_BYTES // (1024 * 1024))


@field_bp.get("/inspections/<int:inspection_id>/photos/<int:photo_id>")
def inspection_photo(inspection_id: int, photo_id: int):
    photo = get_session().scalar(select(InspectionPhoto).where(
        InspectionPhoto.id == photo_id, InspectionPhoto.inspection_id == inspection_id))
    if photo is None:
        raise NotFound("no such photo", code="not_found")
    return Response(photo.data, mimetype=photo.content_type,
                    headers={"Cache-Control": "private, no-store"})


# -- check a stamp as an inspector --------------------------------------------------------------


def _decode_qr(raw: bytes) -> str | None:
    """The text of the first QR code in a photo (zxing-cpp), or None."""
    import io

    import zxingcpp
    from PIL import Image, ImageOps

    photo = clean_photo(raw)  # bounded size and pixels; orientation applied
    with Image.open(io.BytesIO(photo.data)) as image:
        image = ImageOps.grayscale(image)
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return found[0].text if found else None


def _check_page(values: dict, *, result=None, error: str | None = None, status: int = 200):
    return render_template("inspect/check.html", ft=_text(), flang=field_lang(),
                           values=values, result=result, error=error), status


@field_bp.route("/check", methods=["GET", "POST"])
def check():
    if request.method == "GET":
        return _check_page({k: request.args.get(k, "") for k in ("code",)})
    form = request.form
    problems: dict[str, tuple[str, dict]] = {}
    lat, lon, accuracy = _position(form, problems)
    code = (form.get("code") or "").strip()
    upload = request.files.get("photo")
    if not problems and upload and upload.filename:
        raw = upload.read(MAX_BYTES + 1)
        upload.close()
        try:
            code = _decode_qr(raw) or code
            if not code:
                problems["photo"] = ("no_qr_found", {})
        except PhotoRejected as exc:
            problems["photo"] = ("photo_too_large" if exc.code == "photo_too_large"
                                 else "invalid_photo", {})
    if not problems and not code:
        problems["code"] = ("code_required", {})
    if not problems and len(code) > LIMITS["code"]:
        problems["code"] = ("invalid_digital_link", {})
    if problems:
        text = _text()
        message = " ".join(text[c] if c == "no_qr_found" else _error_message(c, p)
                           for c, p in problems.values())
        return _check_page(form.to_dict(), error=message, status=422)
    app = current_app._get_current_object()
    try:
        result = scan_service.verify_scan(app, scan_service.ScanRequest(
            code=code, lat=lat, lon=lon, accuracy_m=accuracy if lat is not None else None,
            device_id=f"inspector-key:{g.inspector.key_id}",
            client_address=request.remote_addr,
            user_agent=request.headers.get("User-Agent", "")[:300], source="inspector"))
    except InvalidInput as exc:
        return _check_page(form.to_dict(), error=_error_message(exc.code, fallback=exc.message),
                           status=422)
    return _check_page({}, result=_verdict_view(result, lat, lon))


def _verdict_view(result, lat, lon) -> dict:
    lang = field_lang()
    answer = {**result.to_json(), "_recorded": True}
    outcome = outcome_of(answer)
    page = PAGE_TEXT[lang]
    title, summary = page["outcomes"][outcome]
    product = result.identified.product if result.identified.genuine else None
    found = PROVINCES.get(default_locator.province_at(lat, lon) or "") \
        if lat is not None else None
    return {
        "outcome": outcome, "tone": OUTCOMES[outcome]["tone"], "icon": OUTCOMES[outcome]["icon"],
        "title": title, "summary": summary.format(gtin=answer["gtin"]),
        "why": explain(answer, outcome, lang, None), "serial": answer["serial"],
        "gtin": answer["gtin"], "product": product.name if product else None,
        "brand": product.brand if product else None,
        "lat": lat, "lon": lon, "province": found.name if found else None,
        "verdict": result.verdict, "at": evidence.vn_time(utcnow()),
    }


# -- evidence --------------------------------------------------------------------------------


def _verify_url() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return base.rstrip("/") + url_for("field.verify")


@field_bp.get("/codes/<string:serial>/evidence")
def evidence_page(serial: str):
    db = get_session()
    data = evidence.content(db, g.inspector, serial)
    issued = evidence.issues_of(db, data["serial"])
    names = flag_service.org_names(db, [i.issued_by_org_id for i in issued])
    return render_template("inspect/evidence.html", ft=_text(), flang=field_lang(), d=data,
                           digest=evidence.content_hash(data), issued=issued, names=names,
                           vn_time=evidence.vn_time)


@field_bp.post("/codes/<string:serial>/evidence.pdf")
def evidence_pdf(serial: str):
    made = evidence.issue(get_session(), g.inspector, serial, verify_url=_verify_url(),
                          font=current_app.config.get("AUTHORITY_PDF_FONT"))
    stamp = made.issue.issued_at.astimezone(evidence.VN_TZ).strftime("%Y%m%d-%H%M")
    return Response(made.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="ho-so-{made.issue.serial}-{stamp}.pdf"',
        "X-Content-SHA256": made.content_hash})


@field_bp.route("/evidence/verify", methods=["GET", "POST"])
def verify():
    text = _text()
    if request.method == "GET":
        given = request.args.get("hash", "")
        if not given:
            return _verify_page({}, None)
        form = {"hash": given}
    else:
        form = request.form.to_dict()
    upload = request.files.get("pdf") if request.method == "POST" else None
    db = get_session()
    try:
        if upload and upload.filename:
            raw = upload.read(evidence.MAX_PDF_BYTES + 1)
            upload.close()
            result = evidence.verify_pdf(db, g.inspector, raw)
        elif (form.get("hash") or "").strip():
            result = evidence.verify_hash(db, g.inspector, form["hash"])
        else:
            return _verify_page(form, None, error=text["errors"]["hash_or_file"], status=422)
    except InvalidInput as exc:
        return _verify_page(form, None, error=_error_message(exc.code, fallback=exc.message),
                            status=422)
    # An unknown hash is a refusal: the copy cannot be vouched for.
    return _verify_page(form, result, status=200 if result.outcome != "unknown" else 404)


def _verify_page(values: dict, result, *, error: str | None = None, status: int = 200):
    return render_template("inspect/verify.html", ft=_text(), flang=field_lang(),
                           values=values, result=result, error=error,
                           vn_time=evidence.vn_time), status
