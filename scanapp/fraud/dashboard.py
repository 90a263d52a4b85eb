"""The market inspectors' dashboard under ``/inspect``: server-rendered pages.

Sign-in: an inspector (or admin) pastes their API key once. The session lives on the
server (``dashboard_sessions``); the cookie (signed by Flask with SECRET_KEY, HttpOnly,
SameSite=Lax) holds only a random token whose SHA-256 names that row. Every page checks the
row: logging out ends it (for every copy of the cookie), so does ``DASHBOARD_IDLE_TIMEOUT_S``
without a request (30 min) and ``DASHBOARD_MAX_AGE_S`` after sign-in (12 h), and the key
must still exist and not be revoked.

CSRF: every form carries a token made with itsdangerous (a timed signature over a random
value kept in the session, salt ``inspect-csrf``) and every POST checks it. Chosen over
Flask-WTF's CSRFProtect because itsdangerous already ships with Flask, the forms are a
handful of plain fields that need no WTForms, and a global CSRFProtect would also guard
the JSON API, which authenticates with bearer keys and needs no CSRF protection.

No inline script: the pages load ``static/inspect.js`` only (strict CSP).

Language: every word comes from ``workspace_text`` (Vietnamese first; ``?lang=en`` switches
to English for the session). Every time is Vietnam time, labelled (``vn_time``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import secrets
from urllib.parse import quote

import marshmallow as ma
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.routing import BuildError

from ..auth.models import ApiKey, Role
from ..auth.service import Principal, authenticate
from ..db import get_session, utcnow
from ..errors import (
    AuthenticationRequired,
    DomainError,
    InvalidInput,
    MalformedRequest,
    NotFound,
    status_for,
)
from ..products.models import Product
from ..regions import PROVINCES
from ..risk.rules import HOTSPOT_DEFAULT_MIN_FORGED
from . import flags as flag_service
from .dossier import build_dossier
from .hotspots import hotspot_scans, hotspots
from .map import hotspot_map, scan_map
from .map import outlines as map_outlines
from .models import DashboardSession
from .workspace_text import (
    LANGS,
    VN_TZ,
    as_vn,
    error_text,
    lang,
    page_outcome,
    report_problem,
    signal_text,
    t,
    vn_date,
    vn_time,
    word,
)

inspect_bp = Blueprint("inspect", __name__, url_prefix="/inspect",
                       template_folder="templates", static_folder="static",
                       static_url_path="/static")

DASHBOARD_ROLES = (Role.INSPECTOR, Role.ADMIN)
CSRF_SALT = "inspect-csrf"
CSRF_MAX_AGE_S = 12 * 3600
PER_PAGE = 50


@inspect_bp.record_once
def _configure(state) -> None:
    # The dashboard is the only cookie user; Flask's defaults (no SameSite, not Secure) are
    # tightened unless an operator chose otherwise.
    config = state.app.config
    if config.get("SESSION_COOKIE_SAMESITE") is None:
        config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_HTTPONLY"] = True
    if config.get("PRODUCTION"):
        # Production is served over https: the cookie must never travel in clear.
        config["SESSION_COOKIE_SECURE"] = True
    # The map's province borders are simplified and projected here, in create_app, not on
    # a first request (about 0.3 s, once per process: the result is cached).
    map_outlines()


# -- session and CSRF -----------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CSRF_SALT)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(16)
    return _serializer().dumps(session["csrf"])


def _check_csrf() -> None:
    token = request.form.get("csrf_token", "")
    try:
        value = _serializer().loads(token, max_age=CSRF_MAX_AGE_S)
    except BadSignature:
        value = None
    if not value or value != session.get("csrf"):
        raise MalformedRequest("The form expired or did not come from this site; "
                               "reload the page and try again.", code="csrf_failed")


def _switch_url() -> str:
    """This page in the other language (the header's switch)."""
    args = request.args.to_dict()
    args["lang"] = "en" if lang() == "vi" else "vi"
    return request.path + "?" + "&".join(
        f"{k}={quote(str(v), safe='')}" for k, v in args.items())


def _maybe_url(endpoint: str, **values) -> str | None:
    """A link to another package's page when that package is installed (the dossier links
    the trace package's lot pages without importing it)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


@inspect_bp.app_context_processor
def _template_helpers():
    # App-wide because other packages' pages join the workspace (the consumer report page
    # extends inspect/base.html), but only under /inspect: the stamp page has its own ``t``.
    if not request.path.startswith("/inspect"):
        return {"csrf_token": csrf_token}
    return {"csrf_token": csrf_token, "t": t, "word": word, "signal_text": signal_text,
            "vn_time": vn_time, "vn_date": vn_date, "lang": lang,
            "report_problem": report_problem, "page_outcome": page_outcome,
            "switch_url": _switch_url, "maybe_url": _maybe_url}


# Last activity is written at most this often: a page view must not always cost a write.
SEEN_RESOLUTION = dt.timedelta(seconds=60)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _start_session(principal: Principal) -> None:
    token = secrets.token_urlsafe(32)
    db = get_session()
    db.add(DashboardSession(token_hash=_token_hash(token), key_id=principal.key_id))
    db.commit()
    # A fresh cookie on sign-in: nothing from before survives (session fixation) but the
    # language chosen on the sign-in page.
    chosen = session.get("lang")
    session.clear()
    session["sid"] = token
    if chosen in LANGS:
        session["lang"] = chosen


def _end_session() -> None:
    token = session.get("sid")
    if token:
        db = get_session()
        row = db.scalar(select(DashboardSession).where(
            DashboardSession.token_hash == _token_hash(token)))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
            db.commit()
    chosen = session.get("lang")
    session.clear()
    if chosen in LANGS:
        session["lang"] = chosen


def _principal() -> Principal | None:
    token = session.get("sid")
    if not token:
        return None
    db = get_session()
    row = db.scalar(select(DashboardSession).where(
        DashboardSession.token_hash == _token_hash(token)))
    now = utcnow()
    config = current_app.config
    idle = dt.timedelta(seconds=config.get("DASHBOARD_IDLE_TIMEOUT_S", 1800))
    max_age = dt.timedelta(seconds=config.get("DASHBOARD_MAX_AGE_S", 12 * 3600))
    if (row is None or row.ended_at is not None or now - row.last_seen_at > idle
            or now - row.created_at > max_age):
        if row is not None and row.ended_at is None:
            row.ended_at = now
            db.commit()
        session.clear()
        return None
    key = db.get(ApiKey, row.key_id)
    if key is None or key.revoked_at is not None or key.role not in DASHBOARD_ROLES:
        _end_session()
        return None
    if now - row.last_seen_at > SEEN_RESOLUTION:
        row.last_seen_at = now
        db.commit()
    return Principal(key_id=key.id, org_id=key.org_id, org_name=key.organisation.name,
                     role=key.role)


def require_sign_in(*open_endpoints: str):
    """Every workspace request (this blueprint's and the field pages'): CSRF on every POST,
    then a signed-in inspector unless the endpoint is open (login, static files)."""
    if request.method == "POST":
        _check_csrf()
    if request.endpoint in open_endpoints:
        return None
    g.inspector = _principal()
    if g.inspector is None:
        return redirect(url_for("inspect.login", next=request.full_path))
    return None


def no_store(response: Response, static_endpoint: str) -> Response:
    # Pages hold case data: never cached by the browser or a proxy.
    if request.endpoint != static_endpoint:
        response.headers["Cache-Control"] = "no-store"
    return response


@inspect_bp.before_request
def _require_sign_in():
    return require_sign_in("inspect.login", "inspect.static")


@inspect_bp.after_request
def _no_store(response: Response) -> Response:
    return no_store(response, "inspect.static")


@inspect_bp.errorhandler(400)
def _bad_request(exc):
    return render_template("inspect/error.html",
                           message=t("error.by_kind.MalformedRequest")), 400


@inspect_bp.errorhandler(404)
def _not_found(exc):
    return render_template("inspect/error.html", message=t("error.not_found_page")), 404


@inspect_bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    # The status the JSON API would answer (errors.HTTP_STATUS), as a page, in words of the
    # page's language (by the error's code); the service's English message goes to the log.
    current_app.logger.info("inspect page error %s: %s", exc.code, exc.message)
    fields = dict(request.view_args or {})
    return render_template("inspect/error.html", message=error_text(exc, **fields)), \
        status_for(exc)


# -- pages ----------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect.
    if target and target.startswith("/inspect") and not target.startswith("//"):
        return target
    return url_for("inspect.queue")


@inspect_bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        raw = request.form.get("key", "").strip()
        try:
            principal = authenticate(get_session(), f"Bearer {raw}")
            if principal.role not in DASHBOARD_ROLES:
                raise AuthenticationRequired("this dashboard needs an inspector key",
                                             code="not_inspector")
        except AuthenticationRequired as exc:
            error = error_text(exc)
        else:
            target = _safe_next(request.args.get("next"))
            _start_session(principal)
            return redirect(target)
    return render_template("inspect/login.html", error=error), 401 if error else 200


@inspect_bp.get("/<path:_unknown>")
def unknown_page(_unknown: str):
    """Any other address under /inspect: the workspace's own "not found" page (the app's
    404 for an unmatched URL is JSON, and English)."""
    return render_template("inspect/error.html", message=t("error.not_found_page")), 404


@inspect_bp.post("/logout")
def logout():
    _end_session()
    return redirect(url_for("inspect.login"))


class _DashboardFilter(ma.Schema):
    """The queue's filter form: empty fields mean "any", dates are whole days of Vietnam
    time."""

    province = ma.fields.String(validate=ma.validate.OneOf(list(PROVINCES)))
    gtin = ma.fields.String(validate=ma.validate.Length(1, 14))
    min_risk = ma.fields.Integer(validate=ma.validate.Range(0, 100))
    status = ma.fields.String(validate=ma.validate.OneOf(flag_service.STATUSES))
    since = ma.fields.Date()
    until = ma.fields.Date()
    page = ma.fields.Integer(validate=ma.validate.Range(1, 100000))

    class Meta:
        unknown = ma.EXCLUDE


def _parse_filter() -> tuple[flag_service.FlagFilter, int, dict, dict]:
    raw = {k: v.strip() for k, v in request.args.items() if v.strip()}
    try:
        args = _DashboardFilter().load(raw)
        errors = {}
    except ma.ValidationError as exc:
        errors = exc.messages
        args = {k: v for k, v in _DashboardFilter().load(
            {k: v for k, v in raw.items() if k not in exc.messages}).items()}

    def day(value: dt.date | None, plus: int = 0) -> dt.datetime | None:
        if value is None:
            return None
        return dt.datetime.combine(value, dt.time(), VN_TZ).astimezone(dt.UTC) + \
            dt.timedelta(days=plus)

    flt = flag_service.FlagFilter(
        province=args.get("province"), gtin=args.get("gtin"), min_risk=args.get("min_risk"),
        status=(args["status"],) if args.get("status") else (),
        since=day(args.get("since")), until=day(args.get("until"), plus=1))
    form = {k: v for k, v in raw.items() if k != "page"}
    return flt, args.get("page", 1), form, errors


@inspect_bp.get("/")
def queue():
    flt, page, form, errors = _parse_filter()
    try:
        result = flag_service.list_flags(get_session(), g.inspector, flt, page=page,
                                         per_page=PER_PAGE)
    except DomainError as exc:
        errors = {"filter": [error_text(exc)]}
        result = {"items": [], "total": 0, "page": 1, "per_page": PER_PAGE}
    pages = max(1, -(-result["total"] // PER_PAGE))
    # The hotspot panel (same page: the inspector's one overview) over the last 7 days.
    until = dt.datetime.now(dt.UTC)
    spots = hotspots(get_session(), g.inspector, since=until - dt.timedelta(days=7),
                     until=until, min_forged=HOTSPOT_DEFAULT_MIN_FORGED)
    db = get_session()
    gtins = {f.gtin for f in result["items"]}
    products = dict(db.execute(select(Product.gtin, Product.name)
                               .where(Product.gtin.in_(gtins))).all()) if gtins else {}
    return render_template(
        "inspect/queue.html", result=result, form=form, errors=errors, pages=pages,
        spots=spots, svg=hotspot_map(spots["provinces"], spots["cells"]),
        provinces=PROVINCES, statuses=flag_service.STATUSES, products=products,
        brands=flag_service.org_names(db, [f.brand_org_id for f in result["items"]]))


CSV_COLUMNS = ("flag_id", "serial", "gtin", "risk", "reasons", "status", "assignee",
               "province", "province_name", "brand", "raised_at", "updated_at")


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting like a formula is quoted as text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


@inspect_bp.get("/flags.csv")
def export_csv():
    flt, _page, _form, errors = _parse_filter()
    if errors:
        raise InvalidInput(f"the filter is invalid: {errors}", code="validation_error")
    db = get_session()
    items = flag_service.iter_flags(db, g.inspector, flt)
    brands = flag_service.org_names(db, [f.brand_org_id for f in items])
    out = io.StringIO()
    writer = csv.writer(out)
    # The header names each column in the page's language; the times are Vietnam time
    # (ISO 8601 with their +07:00 offset) and the two time columns say so.
    writer.writerow([t(f"csv.{column}") for column in CSV_COLUMNS])
    for f in items:
        province = PROVINCES.get(f.province or "")
        writer.writerow([_csv_cell(v) for v in (
            f.id, f.serial, f.gtin, f.risk, " ".join(f.reasons), f.status, f.assignee,
            f.province, province.name if province else None, brands.get(f.brand_org_id),
            as_vn(f.raised_at).isoformat(timespec="seconds"),
            as_vn(f.updated_at).isoformat(timespec="seconds"))])
    stamp = dt.datetime.now(VN_TZ).strftime("%Y%m%d-%H%M")
    # A BOM so that Excel opens the Vietnamese names as UTF-8.
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="flags-{stamp}.csv"'})


@inspect_bp.get("/codes/<string:serial>")
def dossier(serial: str):
    data = build_dossier(get_session(), g.inspector, serial)
    flag = data["case"]
    allowed = []
    if flag is not None:
        allowed = sorted(flag_service.TRANSITIONS[flag_service.CaseStatus(flag["status"])])
    return render_template("inspect/dossier.html", d=data, svg=scan_map(data["scans"]),
                           allowed=allowed, provinces=PROVINCES)


def _trace_provider(name: str):
    """The trace package's lineage or export (registered in its init_app; fraud is below
    trace and does not import it). Without the package the pages do not exist."""
    provider = current_app.extensions.get(f"scanapp.trace.{name}")
    if provider is None:
        raise NotFound("traceability is not installed in this app", code="no_trace")
    return provider


@inspect_bp.get("/lots/<int:lot_id>/lineage/<any(backward, forward):direction>")
def lot_lineage(lot_id: int, direction: str):
    """A lot's whole lineage as a page: the API's trace document (the same access rules:
    inspectors see every chain) in the inspector's language."""
    document = _trace_provider("lineage")[direction](get_session(), g.inspector, lot_id)
    return render_template("inspect/lineage.html", doc=document, direction=direction,
                           lot_id=lot_id)


@inspect_bp.get("/lots/<int:lot_id>/trace.<any(csv, xlsx):fmt>")
def lot_export(lot_id: int, fmt: str):
    """The lot's trace spreadsheet for a signed-in inspector (the API's export needs a key
    in a header, which a link in a browser cannot send)."""
    direction = request.args.get("direction", "both")
    if direction not in ("backward", "forward", "both"):
        raise InvalidInput("direction must be backward, forward or both",
                           code="bad_direction")
    body, mime, name = _trace_provider("export")(get_session(), g.inspector, lot_id,
                                                 direction, fmt)
    return Response(body, mimetype=mime,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@inspect_bp.post("/flags/<int:flag_id>/case")
def case_action(flag_id: int):
    status = request.form.get("status") or None
    note = request.form.get("note") or None
    assignee_field = request.form.get("assignee")
    db = get_session()
    flag = flag_service.get_flag(db, g.inspector, flag_id)
    serial = flag.serial
    changed_assignee = assignee_field is not None and \
        (assignee_field.strip() or None) != flag.assignee
    try:
        flag_service.act_on_case(
            db, g.inspector, flag_id, status=status, note=note,
            assignee=(assignee_field.strip() or None) if changed_assignee else None,
            unassign=changed_assignee and not assignee_field.strip())
        flash(t("flash.case_updated"), "ok")
    except DomainError as exc:
        db.rollback()
        flash(error_text(exc, from_status=word("status", flag.status),
                         to_status=word("status", status)), "error")
    return redirect(url_for("inspect.dossier", serial=serial))



class _SpotFilter(ma.Schema):
    """A hotspot opened: a province or a map cell, over the queue panel's last 7 days
    (or ``days`` up to 366)."""

    province = ma.fields.String(validate=ma.validate.OneOf(list(PROVINCES)))
    cell = ma.fields.String(validate=ma.validate.Regexp(r"^-?\d{1,4}:-?\d{1,4}$"))
    days = ma.fields.Integer(load_default=7, validate=ma.validate.Range(1, 366))

    class Meta:
        unknown = ma.EXCLUDE


@inspect_bp.get("/hotspots")
def hotspot():
    raw = {k: v.strip() for k, v in request.args.items() if v.strip()}
    try:
        args = _SpotFilter().load(raw)
    except ma.ValidationError as exc:
        code = "unknown_cell" if "cell" in exc.messages else "unknown_province" \
            if "province" in exc.messages else "validation_error"
        raise InvalidInput(f"invalid hotspot: {exc.messages}", code=code) from None
    until = dt.datetime.now(dt.UTC)
    db = get_session()
    found = hotspot_scans(db, g.inspector, since=until - dt.timedelta(days=args["days"]),
                          until=until, province=args.get("province"), cell=args.get("cell"))
    place = args.get("province")
    centre = None
    if args.get("cell"):
        from ..regions import cell_centre, default_locator

        centre = cell_centre(args["cell"])
        place = default_locator.province_at(*centre)
    brands = flag_service.org_names(db, [s["brand_org_id"] for s in found["scans"]])
    return render_template("inspect/hotspot.html", spot=found, place=place, centre=centre,
                           provinces=PROVINCES, brands=brands, days=args["days"])
