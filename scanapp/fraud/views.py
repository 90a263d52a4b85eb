"""Inspector and brand endpoints: flags, cases, dossiers, field inspections, hotspots,
webhook settings."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from ..auth.access import current_principal, requires
from ..auth.models import Role
from ..db import get_session
from ..extensions import Blueprint
from . import flags as flag_service
from . import webhooks
from .dashboard import inspect_bp
from .dossier import build_dossier
from .field import field_bp
from .hotspots import hotspots
from .schemas import (
    CaseActionSchema,
    DeliverySchema,
    DossierSchema,
    FlagDetailSchema,
    FlagPageSchema,
    FlagQuerySchema,
    HotspotQuerySchema,
    HotspotsSchema,
    InspectionCreateSchema,
    InspectionSchema,
    WebhookSchema,
    WebhookSetSchema,
)

blp = Blueprint("fraud", __name__, url_prefix="/api/v1",
                description="Fraud flags, cases, code dossiers, field inspections, hotspots")
PLAIN_BLUEPRINTS = (inspect_bp, field_bp)

READERS = (Role.INSPECTOR, Role.ADMIN, Role.BRAND)


DECIDERS = (Role.INSPECTOR, Role.ADMIN)


def flag_filter(args: dict) -> flag_service.FlagFilter:
    principal = current_principal()
    return flag_service.FlagFilter(
        province=args.get("province"), gtin=args.get("gtin"), min_risk=args.get("min_risk"),
        status=tuple(s for s in (args.get("status") or "").split(",") if s),
        since=args.get("since"), until=args.get("until"),
        # A brand's own scope already applies; its "brand" filter cannot widen it.
        brand_org_id=args.get("brand") if principal.role is not Role.BRAND else None,
        product_id=args.get("product_id"))


@blp.route("/flags")
class Flags(MethodView):
    @requires(*READERS)
    @blp.arguments(FlagQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, FlagPageSchema)
    def get(self, args):
        """Flagged codes, riskiest first (a brand sees its own products only)"""
        return flag_service.list_flags(get_session(), current_principal(), flag_filter(args),
                                       page=args["page"], per_page=args["per_page"])


@blp.route("/flags/<int:flag_id>")
class FlagItem(MethodView):
    @requires(*READERS)
    @blp.response(200, FlagDetailSchema)
    def get(self, flag_id: int):
        """One flag with its case audit trail"""
        return flag_service.get_flag(get_session(), current_principal(), flag_id)


@blp.route("/flags/<int:flag_id>/case")
class FlagCase(MethodView):
    @requires(*READERS)
    @blp.arguments(CaseActionSchema)
    @blp.response(200, FlagDetailSchema)
    def post(self, data, flag_id: int):
        """Act on the case: change its status (409 if not allowed from the current one),
        add a note, (un)assign. Brands may only add notes."""
        unassign = "assignee" in data and not data["assignee"]
        return flag_service.act_on_case(
            get_session(), current_principal(), flag_id, status=data.get("status"),
            note=data.get("note"), assignee=data.get("assignee") or None, unassign=unassign)


@blp.route("/codes/<string:serial>")
class CodeDossier(MethodView):
    @requires(*READERS)
    @blp.response(200, DossierSchema)
    def get(self, serial: str):
        """A code's dossier: product, range, printer, lifecycle, scans, signals, case"""
        return build_dossier(get_session(), current_principal(), serial)


@blp.route("/inspections")
class Inspections(MethodView):
    @requires(*DECIDERS)
    @blp.arguments(InspectionCreateSchema)
    @blp.response(201, InspectionSchema)
    def post(self, data):
        """Record a field inspection: the inspector checked this stamp here and found this"""
        return flag_service.record_inspection(get_session(), current_principal(), data)


@blp.route("/hotspots")
class Hotspots(MethodView):
    @requires(*READERS)
    @blp.arguments(HotspotQuerySchema, location="query", unknown=ma.RAISE)
    @blp.response(200, HotspotsSchema)
    def get(self, args):
        """Forged-code and copied-code hotspots per province and map cell (default: the
        last 7 days)"""
        return hotspots(get_session(), current_principal(), since=args.get("since"),
                        until=args.get("until"), province=args.get("province"),
                        gtin=args.get("gtin"), min_forged=args["min_forged"],
                        min_copied=args["min_copied"], min_networks=args["min_networks"])


def _webhook_view(org, secret=None) -> dict:
    return {"url": org.webhook_url, "secret": secret, "has_secret": bool(org.webhook_secret)}


@blp.route("/webhook")
class Webhook(MethodView):
    @requires(Role.BRAND)
    @blp.response(200, WebhookSchema)
    def get(self):
        """The brand's webhook for flag alerts (the secret is never shown again)"""
        from ..auth.models import Organisation

        return _webhook_view(get_session().get(Organisation, current_principal().org_id))

    @requires(Role.BRAND)
    @blp.arguments(WebhookSetSchema)
    @blp.response(200, WebhookSchema)
    def put(self, data):
        """Set (or with url null, remove) the webhook; a new signing secret is returned once"""
        org, secret = webhooks.set_webhook(get_session(), current_principal(), data["url"],
                                           data["rotate_secret"], current_app)
        return _webhook_view(org, secret)


@blp.route("/webhook/deliveries")
class WebhookDeliveries(MethodView):
    @requires(Role.BRAND)
    @blp.response(200, DeliverySchema(many=True))
    def get(self):
        """The latest deliveries to the brand's webhook, with their state"""
        return webhooks.recent_deliveries(get_session(), current_principal())
