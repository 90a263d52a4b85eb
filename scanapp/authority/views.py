"""The authority API: what a province sees, the review queue, the firm's answers, the
province's policy. Thin: each view calls one service function."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView

from ..auth.access import current_principal, requires
from ..auth.models import Role
from ..db import get_session
from ..errors import PermissionDenied
from ..extensions import Blueprint
from ..products.schemas import ProductSchema
from ..trace.schemas import LocationSchema, LotSchema, PartySchema
from . import findings, report, review, rules, scope, stats
from .pages import pages_bp
from .schemas import (
    AnswerSchema,
    ApproveSchema,
    FindingActionSchema,
    FindingQuerySchema,
    FindingSchema,
    PeriodSchema,
    PolicySchema,
    RejectSchema,
    ReviewDetailSchema,
    ReviewItemSchema,
    ReviewQuerySchema,
)

blp = Blueprint("authority", __name__, url_prefix="/api/v1/authority",
                description="Provincial authorities: scoped views, review before publication, "
                            "data-quality findings, statistics")

PLAIN_BLUEPRINTS = (pages_bp,)
AUTHORITIES = (Role.AUTHORITY, Role.ADMIN)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LIMIT = 500


def _scope():
    return scope.scope_of(get_session(), current_principal())


def _rows(query):
    return list(get_session().scalars(query.limit(LIMIT)))


@blp.route("/parties")
@requires(*AUTHORITIES)
@blp.response(200, PartySchema(many=True))
def parties():
    """Parties of your province"""
    return _rows(scope.parties(_scope()))


@blp.route("/locations")
@requires(*AUTHORITIES)
@blp.response(200, LocationSchema(many=True))
def locations():
    """Locations of your province"""
    return _rows(scope.locations(_scope()))


@blp.route("/products")
@requires(*AUTHORITIES)
@blp.response(200, ProductSchema(many=True))
def products():
    """Products whose brand has a party in your province"""
    return _rows(scope.products(_scope()))


@blp.route("/lots")
@requires(*AUTHORITIES)
@blp.response(200, LotSchema(many=True))
def lots():
    """Lots made by a party or at a place of your province"""
    return _rows(scope.lots(_scope()))


@blp.route("/events")
@requires(*AUTHORITIES)
@blp.response(200, description="the supply-chain events at places of your province")
def events():
    """Lot events that happened at places of your province"""
    rows = _rows(scope.events(_scope()))
    return {"events": [{"event_id": e.event_id, "lot_id": e.lot_id, "type": e.event_type,
                        "biz_step": e.biz_step, "role": e.role,
                        "event_time": e.event_time.isoformat(),
                        "location_id": e.location_id} for e in rows]}


@blp.route("/reviews")
@requires(Role.AUTHORITY, Role.ADMIN, Role.BRAND)
@blp.arguments(ReviewQuerySchema, location="query")
@blp.response(200, ReviewItemSchema(many=True))
def reviews(args):
    """The review queue (an authority: its province's; a firm: its own items and reasons)"""
    return review.list_reviews(get_session(), current_principal(), args.get("state"))


@blp.route("/reviews/<int:item_id>")
@requires(Role.AUTHORITY, Role.ADMIN, Role.BRAND)
@blp.response(200, ReviewDetailSchema)
def review_item(item_id: int):
    """One review item with its audit trail"""
    session = get_session()
    item = review.get_review(session, current_principal(), item_id)
    fields = {name: getattr(item, name) for name in ReviewItemSchema().fields}
    return {**fields, "history": review.history(session, item)}


@blp.route("/reviews/<int:item_id>/approve", methods=["POST"])
@requires(Role.AUTHORITY)
@blp.arguments(ApproveSchema)
@blp.response(200, ReviewItemSchema)
def approve(data, item_id: int):
    """Approve: the data becomes public (stamp page, portal)"""
    return review.approve(get_session(), current_principal(), item_id, data.get("note"))


@blp.route("/reviews/<int:item_id>/reject", methods=["POST"])
@requires(Role.AUTHORITY)
@blp.arguments(RejectSchema)
@blp.response(200, ReviewItemSchema)
def reject(data, item_id: int):
    """Reject with a reason the firm sees; the data stays unpublished"""
    return review.reject(get_session(), current_principal(), item_id, data["reason"])


@blp.route("/reviews/<int:item_id>/answer", methods=["POST"])
@requires(Role.BRAND)
@blp.arguments(AnswerSchema)
@blp.response(200, ReviewItemSchema)
def answer(data, item_id: int):
    """The firm answers a rejection; the item is pending again"""
    return review.answer(get_session(), current_principal(), item_id, data["answer"])


@blp.route("/policy")
class Policy(MethodView):
    @requires(*AUTHORITIES)
    @blp.response(200, PolicySchema)
    def get(self):
        """Your province's review policy and plan targets"""
        found = scope.policy(get_session(), _scope().province)
        return found or {}

    @requires(Role.AUTHORITY)
    @blp.arguments(PolicySchema)
    @blp.response(200, PolicySchema)
    def put(self, data):
        """Switch review on/off, trust product categories, set the plan's targets"""
        return review.set_policy(get_session(), current_principal(), data)


@blp.route("/rules")
@requires(*AUTHORITIES)
@blp.response(200, description="the data-quality rules, with Vietnamese and English titles")
def rule_list():
    """The data-quality rules, with their Vietnamese and English names"""
    return {"rules": [{"name": r.name, "title_vi": r.title_vi, "title_en": r.title_en}
                      for r in rules.RULES]}


@blp.route("/findings")
@requires(*AUTHORITIES)
@blp.arguments(FindingQuerySchema, location="query")
@blp.response(200, FindingSchema(many=True))
def finding_list(args):
    """Data-quality findings of your province, newest first"""
    return findings.list_findings(get_session(), current_principal(), **args)


@blp.route("/findings/<int:finding_id>")
@requires(*AUTHORITIES)
@blp.response(200, FindingSchema)
def finding_item(finding_id: int):
    """One finding"""
    return findings.get_finding(get_session(), current_principal(), finding_id)


@blp.route("/findings/<int:finding_id>/case", methods=["POST"])
@requires(Role.AUTHORITY)
@blp.arguments(FindingActionSchema)
@blp.response(200, FindingSchema)
def finding_case(data, finding_id: int):
    """Open a violation case (the inspectors' case workflow) from a finding"""
    return findings.open_case(get_session(), current_principal(), finding_id, data.get("note"))


@blp.route("/findings/<int:finding_id>/dismiss", methods=["POST"])
@requires(Role.AUTHORITY)
@blp.arguments(FindingActionSchema)
@blp.response(200, FindingSchema)
def finding_dismiss(data, finding_id: int):
    """Dismiss a finding (explained, not a violation)"""
    return findings.dismiss(get_session(), current_principal(), finding_id, data.get("note"))


def _statistics(args) -> dict:
    session = get_session()
    found = scope.scope_of(session, current_principal())
    # Checked against the 34 units first: an unknown code is the caller's mistake (422),
    # not a province to report on.
    province = scope.parse_province(args.get("province")) if args.get("province") else None
    if province:
        if not found.covers(province):
            raise PermissionDenied("that province is outside your scope")
        found = scope.Scope(province)
    return stats.statistics(session, found, stats.Period.of(args.get("start"), args.get("end")))


@blp.route("/statistics")
@requires(*AUTHORITIES)
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, description="figures per province and sector against the plan's targets")
def statistics(args):
    """Implementation figures for a period (Vietnam dates; default: this year so far)"""
    return _statistics(args)


@blp.route("/report.pdf")
@requires(*AUTHORITIES)
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, content_type="application/pdf", description="the report as PDF")
def report_pdf(args):
    """The report for a period as PDF"""
    body = report.pdf(_statistics(args), current_app.config.get("AUTHORITY_PDF_FONT"))
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="bao-cao-truy-xuat.pdf"'})


@blp.route("/report.xlsx")
@requires(*AUTHORITIES)
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, content_type=XLSX, description="the report as XLSX")
def report_xlsx(args):
    """The report for a period as XLSX"""
    return Response(report.xlsx(_statistics(args)), mimetype=XLSX, headers={
        "Content-Disposition": 'attachment; filename="bao-cao-truy-xuat.xlsx"'})


