"""HTTP surface of consumer reports.

- ``POST /api/v1/reports`` (public, multipart form, rate limited per address): file one.
- ``GET /api/v1/reports``, ``/api/v1/reports/{id}``, ``/api/v1/reports/{id}/photo``:
  the inspectors' queue (inspector or admin key); only here is the phone number shown.
- ``POST /v/report``: the stamp page's form, answered with a page (thanks, or the form
  again with every problem named and everything typed kept).
- ``/inspect/reports/{id}`` (+ ``/photo``): one report in the inspectors' dashboard.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, g, redirect, render_template, request, url_for
from flask.views import MethodView

from ..auth.access import requires
from ..auth.models import Role
from ..db import get_session
from ..extensions import Blueprint, limiter
from ..regions import PROVINCES
from ..scan.limits import address_key
from ..scan.page_text import TEXT
from ..scan.pages import choose_lang, format_datetime
from ..services import services
from . import service
from .photos import MAX_BYTES
from .schemas import ReportCreated, ReportFormSchema, ReportOut, ReportPage, ReportQuery

READERS = (Role.INSPECTOR, Role.ADMIN)
# Room for a photo over the 8 MB limit, so that it gets a clear message in the form (with
# everything typed kept) rather than a bare 413; the global body limit stays for the rest.
BODY_LIMIT = 20 * 1024 * 1024

blp = Blueprint("reports", __name__, url_prefix="/api/v1",
                description="Consumer reports of counterfeits (filing is public; reading "
                            "needs an inspector key).")


def _report_limit() -> str:
    return current_app.config.get("RATELIMIT_REPORT", "10/hour;30/day")


per_address = limiter.limit(_report_limit, key_func=address_key, scope="consumer-report")


@blp.record_once
def _body_limits(state) -> None:
    limits = state.app.config.setdefault("BODY_LIMITS", {})
    for endpoint in ("reports.Reports", "consumer_reports.submit_form"):
        limits.setdefault(endpoint, BODY_LIMIT)


def _file(form, files) -> object:
    data, problems = service.read_input(form)
    upload = files.get("photo")
    raw = None
    if upload:
        # Read at most one byte over the limit (enough to say "too big"), then let go of
        # the spooled temporary file at once.
        raw = upload.read(MAX_BYTES + 1) if upload.filename else None
        upload.close()
    return service.file_report(get_session(), services().hasher, data,
                               problems, raw or None, request.remote_addr,
                               request.headers.get("User-Agent", "")[:300])


@blp.route("/reports")
class Reports(MethodView):
    decorators = [per_address]

    @blp.doc(requestBody={"content": {"multipart/form-data": {
        "schema": ReportFormSchema}}})
    @blp.response(201, ReportCreated)
    def post(self):
        """File a consumer report (multipart form: the fields below and an optional
        ``photo``). Every problem is listed at once (422) and nothing is stored then."""
        report = _file(request.form, request.files)
        return {"id": report.id, "status": report.status, "created_at": report.created_at}

    @requires(*READERS)
    @blp.arguments(ReportQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, ReportPage)
    def get(self, args):
        """The inspectors' queue of consumer reports, newest first."""
        return service.list_reports(get_session(), **args)


@blp.route("/reports/<int:report_id>")
class ReportItem(MethodView):
    @requires(*READERS)
    @blp.response(200, ReportOut)
    def get(self, report_id: int):
        """One report, with the reporter's phone number."""
        return service.get_report(get_session(), report_id)


@blp.route("/reports/<int:report_id>/photo")
class ReportPhoto(MethodView):
    @requires(*READERS)
    @blp.response(200, content_type="image/jpeg")
    def get(self, report_id: int):
        """The report's photo (JPEG, metadata stripped)."""
        return _photo(report_id)


def _photo(report_id: int) -> Response:
    report = service.get_report(get_session(), report_id)
    if not report.photo:
        from ..errors import NotFound

        raise NotFound("this report has no photo", code="photo_not_found")
    return Response(report.photo, mimetype=report.photo_type or "image/jpeg",
                    headers={"Cache-Control": "private, no-store"})


# -- pages ------------------------------------------------------------------------------------

pages_bp = FlaskBlueprint("consumer_reports", __name__, template_folder="templates")


@pages_bp.post("/v/report")
@per_address
def submit_form():
    lang = request.form.get("lang") if request.form.get("lang") in ("vi", "en") \
        else choose_lang()
    text = TEXT[lang]
    outcome = request.form.get("outcome") or "genuine"
    try:
        report = _file(request.form, request.files)
    except service.ReportInvalid as exc:
        errors = exc.messages(lang)
        if request.files.get("photo") and request.files["photo"].filename \
                and "photo" not in errors:
            errors["photo"] = text["report"]["photo_again"]
        return render_template(
            "reports/form_page.html", lang=lang, t=text, errors=errors,
            values=request.form, report=None, code=request.form.get("code", ""),
            view={"outcome": outcome, "tone": "bad"}), 422
    return render_template("reports/form_page.html", lang=lang, t=text, errors={},
                           values={}, report=report, code=report.code,
                           view={"outcome": outcome, "tone": "bad"}), 201


@pages_bp.errorhandler(429)
def _too_many_reports(exc):
    """Over the report limit: the form again, everything typed kept, saying when to retry."""
    lang = request.form.get("lang") if request.form.get("lang") in ("vi", "en") \
        else choose_lang()
    try:
        retry = int(exc.limit.limit.get_expiry())
    except Exception:  # noqa: BLE001 - any limit object: an hour is the usual window
        retry = 3600
    minutes = max(1, -(-retry // 60))
    text = TEXT[lang]
    return render_template(
        "reports/form_page.html", lang=lang, t=text, values=request.form, report=None,
        errors={"_": text["report"]["too_many"].format(minutes=minutes)},
        code=request.form.get("code", ""),
        view={"outcome": request.form.get("outcome") or "genuine", "tone": "bad"}), \
        429, {"Retry-After": str(retry)}


@pages_bp.get("/inspect/reports/<int:report_id>")
def inspect_report(report_id: int):
    if not _inspector():
        return redirect(url_for("inspect.login", next=request.full_path))
    report = service.get_report(get_session(), report_id)
    return render_template("reports/inspect_report.html", report=report, provinces=PROVINCES,
                           problems=TEXT["vi"]["report"]["problems"]), 200, \
        {"Cache-Control": "no-store"}


@pages_bp.get("/inspect/reports/<int:report_id>/photo")
def inspect_report_photo(report_id: int):
    if not _inspector():
        return redirect(url_for("inspect.login", next=request.full_path))
    return _photo(report_id)


def _inspector():
    # The dashboard's own sign-in (session cookie holding a key id, re-checked each time).
    from ..fraud.dashboard import _principal

    g.inspector = _principal()
    return g.inspector


@pages_bp.app_template_filter("vn_datetime")
def _vn_datetime(value) -> str:
    return format_datetime(value, "vi")


@pages_bp.app_context_processor
def _queue_panel():
    """``consumer_reports()`` for the inspectors' queue page: the newest reports;
    ``consumer_reports(serial=...)`` for a code's dossier: the reports about that code;
    ``report_counts(serials)`` for the queue's rows."""

    def consumer_reports(limit: int = 20, serial: str | None = None) -> dict:
        found = service.list_reports(get_session(), per_page=limit, serial=serial)
        return {**found, "new": service.count_new(get_session()), "provinces": PROVINCES}

    def report_counts(serials) -> dict[str, int]:
        return service.count_by_serial(get_session(), serials)

    return {"consumer_reports": consumer_reports, "report_counts": report_counts}


PLAIN_BLUEPRINTS = (pages_bp,)
__all__ = ["blp", "PLAIN_BLUEPRINTS"]
