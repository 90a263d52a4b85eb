"""The authority's web pages (Vietnamese first): sign in with an authority key, the review
queue (approve / reject with a reason), the findings queue and one finding (open a case,
dismiss), and the statistics dashboard with server-drawn SVG charts and the report files.

Sign-in keeps only the key id in the signed session cookie; every POST carries a CSRF
token; pages are never cached. The pages call the same services as the API.
"""

from __future__ import annotations

import datetime as dt
import secrets

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from ..auth.models import ApiKey, Role
from ..auth.service import Principal, authenticate
from ..db import get_session
from ..errors import AuthenticationRequired, DomainError
from . import charts, findings, report, review, rules, scope, stats

pages_bp = Blueprint("authority_pages", __name__, url_prefix="/authority",
                     template_folder="templates")
VN = dt.timezone(dt.timedelta(hours=7))
SUBJECTS = {"party": "Cơ sở", "product": "Sản phẩm", "certificate": "Chứng nhận"}
STATES = {"pending": "Chờ duyệt", "approved": "Đã duyệt", "rejected": "Từ chối",
          "open": "Mới", "dismissed": "Đã bỏ qua", "case": "Đã lập vụ việc"}


def _principal() -> Principal | None:
    key_id = session.get("authority_key_id")
    if key_id is None:
        return None
    key = get_session().get(ApiKey, key_id)
    if key is None or key.revoked_at is not None or key.role is not Role.AUTHORITY:
        session.pop("authority_key_id", None)
        return None
    return Principal(key_id=key.id, org_id=key.org_id, org_name=key.organisation.name,
                     role=key.role)


def _csrf() -> str:
    if "authority_csrf" not in session:
        session["authority_csrf"] = secrets.token_urlsafe(16)
    return session["authority_csrf"]


@pages_bp.app_template_filter("vn_time")
def _vn_time(value: dt.datetime | None) -> str:
    return value.astimezone(VN).strftime("%H:%M %d/%m/%Y") if value else ""


@pages_bp.before_request
def _sign_in_required():
    if request.method == "POST" and (
            not session.get("authority_csrf")
            or not secrets.compare_digest(request.form.get("csrf_token", ""),
                                          session["authority_csrf"])):
        abort(400, description="Biểu mẫu đã hết hạn, hãy tải lại trang.")
    if request.endpoint == "authority_pages.login":
        return None
    g.authority = _principal()
    if g.authority is None:
        return redirect(url_for("authority_pages.login"))
    g.scope = scope.scope_of(get_session(), g.authority)
    return None


@pages_bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@pages_bp.context_processor
def _helpers():
    return {"csrf_token": _csrf, "SUBJECTS": SUBJECTS, "STATES": STATES}


@pages_bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            principal = authenticate(get_session(),
                                     f"Bearer {request.form.get('key', '').strip()}")
            if principal.role is not Role.AUTHORITY:
                raise AuthenticationRequired("Trang này cần khóa của cơ quan quản lý.")
        except AuthenticationRequired as exc:
            error = exc.message
        else:
            session.clear()
            session["authority_key_id"] = principal.key_id
            return redirect(url_for("authority_pages.queue"))
    return render_template("authority/login.html", error=error), 401 if error else 200


@pages_bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("authority_pages.login"))


@pages_bp.get("/")
def queue():
    state = request.args.get("state", "pending")
    items = review.list_reviews(get_session(), g.authority, state if state in (
        "pending", "approved", "rejected") else "pending")
    return render_template("authority/queue.html", items=items, state=state)


@pages_bp.post("/reviews/<int:item_id>")
def decide(item_id: int):
    try:
        if request.form.get("action") == "approve":
            review.approve(get_session(), g.authority, item_id, request.form.get("note"))
            flash("Đã duyệt: dữ liệu được công khai.", "ok")
        else:
            review.reject(get_session(), g.authority, item_id, request.form.get("reason", ""))
            flash("Đã từ chối; doanh nghiệp sẽ thấy lý do.", "ok")
    except DomainError as exc:
        get_session().rollback()
        flash(exc.message, "error")
    return redirect(url_for("authority_pages.queue"))


@pages_bp.get("/findings")
def finding_list():
    state = request.args.get("state", "open")
    rows = findings.list_findings(get_session(), g.authority, state or None)
    return render_template("authority/findings.html", rows=rows, state=state,
                           rules=rules.RULES_BY_NAME)


@pages_bp.route("/findings/<int:finding_id>", methods=["GET", "POST"])
def finding(finding_id: int):
    session_ = get_session()
    if request.method == "POST":
        try:
            if request.form.get("action") == "case":
                findings.open_case(session_, g.authority, finding_id, request.form.get("note"))
                flash("Đã lập vụ việc; thanh tra tiếp nhận trong hàng đợi vụ việc.", "ok")
            else:
                findings.dismiss(session_, g.authority, finding_id, request.form.get("note"))
                flash("Đã bỏ qua phát hiện.", "ok")
        except DomainError as exc:
            session_.rollback()
            flash(exc.message, "error")
        return redirect(url_for("authority_pages.finding", finding_id=finding_id))
    try:
        row = findings.get_finding(session_, g.authority, finding_id)
    except DomainError:
        abort(404)
    return render_template("authority/finding.html", f=row,
                           rule=rules.RULES_BY_NAME.get(row.rule))


def _period() -> stats.Period:
    def day(name):
        try:
            return dt.date.fromisoformat(request.args[name]) if request.args.get(name) else None
        except ValueError:
            abort(400, description=f"Ngày không hợp lệ: {request.args[name]}")
    try:
        return stats.Period.of(day("from"), day("to"))
    except DomainError as exc:
        abort(400, description=exc.message)


@pages_bp.get("/statistics")
def statistics():
    period = _period()
    data = stats.statistics(get_session(), g.scope, period)
    svgs = []
    for figures in data["provinces"]:
        bars = charts.target_bars([
            ("Doanh nghiệp có truy xuất", figures["firms"]["pct"],
             figures["firms"]["target_pct"]),
            ("Sản phẩm lên Cổng quốc gia", figures["portal"]["pct"],
             figures["portal"]["target_pct"])])
        sectors = charts.column_chart([(s["sector"], s["traced_products"])
                                       for s in figures["sectors"]],
                                      "Sản phẩm có truy xuất theo lĩnh vực")
        activity = charts.column_chart([
            ("Tem phát hành", figures["stamps"]["issued"]),
            ("Mã được quét", figures["stamps"]["scanned_codes"]),
            ("Nghi vấn giả", figures["counterfeit"]["flags"]),
            ("Vụ việc mở", figures["cases"]["opened"]),
            ("Vụ việc đóng", figures["cases"]["closed"]),
            ("Phát hiện DL", figures["findings"]["total"])], "Hoạt động trong kỳ",
            color="#6d4c41")
        svgs.append((figures, Markup(bars), Markup(sectors), Markup(activity)))
    return render_template("authority/statistics.html", data=data, svgs=svgs,
                           period=period, rows=report.rows)


@pages_bp.get("/report.<kind>")
def report_file(kind: str):
    data = stats.statistics(get_session(), g.scope, _period())
    if kind == "pdf":
        try:
            body = report.pdf(data, current_app.config.get("AUTHORITY_PDF_FONT"))
        except DomainError as exc:
            abort(503, description=exc.message)
        return Response(body, mimetype="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="bao-cao-truy-xuat.pdf"'})
    if kind == "xlsx":
        return Response(report.xlsx(data), mimetype="application/vnd.openxmlformats-"
                        "officedocument.spreadsheetml.sheet", headers={
                            "Content-Disposition": 'attachment; filename="bao-cao.xlsx"'})
    abort(404)
