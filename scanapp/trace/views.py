"""Master-data endpoints of the trace API: parties, locations, certificates, lots, partners."""

from __future__ import annotations

from flask import Response, g, request
from flask.views import MethodView

from ..auth.access import current_principal, requires
from ..auth.models import Role
from ..db import get_session
from ..errors import NotFound, PermissionDenied
from ..extensions import Blueprint
from ..gs1 import normalize_gtin
from ..scan.limits import per_address
from . import events, export, page, public, queries, recall, service
from .cli import register_commands
from .schemas import (
    CertificateCreateSchema,
    CertificateQuerySchema,
    CertificateSchema,
    ExportQuerySchema,
    GlnQuerySchema,
    HarvestSchema,
    InspectionEventSchema,
    LocationCreateSchema,
    LocationSchema,
    LocationUpdateSchema,
    LotCreateSchema,
    LotQuerySchema,
    LotSchema,
    LotUpdateSchema,
    PackingSchema,
    PartnerCreateSchema,
    PartnerSchema,
    PartyCreateSchema,
    PartyQuerySchema,
    PartySchema,
    PartyUpdateSchema,
    RecallSchema,
    ReceiptSchema,
    RecordedEventSchema,
    RevokeSchema,
    ShipmentSchema,
    TraceDocumentSchema,
    TransformationSchema,
)

blp = Blueprint("trace", __name__, url_prefix="/api/v1/trace",
                description="Origin traceability: parties, places, certificates, lots")

register_commands(blp.cli)

READERS = (Role.ADMIN, Role.BRAND, Role.INSPECTOR)
WRITERS = (Role.ADMIN, Role.BRAND)


@blp.app_context_processor
def _inspect_lot_panel():
    """``lot_trace(gtin, lot)`` for the inspectors' dossier (scanapp.fraud cannot import
    this package): the lot's id, one step back and forward, and its recall; None when the
    lot has no trace record or the signed-in inspector may not read it."""
    if not request.path.startswith("/inspect"):
        return {}

    def lot_trace(gtin: str, lot_code: str) -> dict | None:
        principal = getattr(g, "inspector", None)
        if principal is None:
            return None
        session = get_session()
        try:
            lot = service.find_lot(session, principal, gtin, lot_code)
            return {"id": lot.id, "one_step": queries.one_step(session, principal, lot.id),
                    "recall": public.recall_json(session, lot)}
        except (NotFound, PermissionDenied):
            return None

    return {"lot_trace": lot_trace}


@blp.route("/parties")
class Parties(MethodView):
    @requires(*READERS)
    @blp.arguments(PartyQuerySchema, location="query")
    @blp.response(200, PartySchema(many=True))
    def get(self, args):
        """Parties you manage or that appear in chains you may see (or look one up by GLN)"""
        return service.list_parties(get_session(), current_principal(), **args)

    @requires(*WRITERS)
    @blp.arguments(PartyCreateSchema)
    @blp.response(201, PartySchema)
    def post(self, data):
        """Register a party (producer, cooperative, processor, distributor, shop)"""
        return service.create_party(get_session(), current_principal(), data)


@blp.route("/parties/<int:party_id>")
class PartyItem(MethodView):
    @requires(*READERS)
    @blp.response(200, PartySchema)
    def get(self, party_id: int):
        """One party"""
        return service.get_party(get_session(), current_principal(), party_id)

    @requires(*WRITERS)
    @blp.arguments(PartyUpdateSchema)
    @blp.response(200, PartySchema)
    def patch(self, data, party_id: int):
        """Change a party you manage"""
        return service.update_party(get_session(), current_principal(), party_id, data)


@blp.route("/locations")
class Locations(MethodView):
    @requires(*READERS)
    @blp.arguments(GlnQuerySchema, location="query")
    @blp.response(200, LocationSchema(many=True))
    def get(self, args):
        """Locations you manage or that appear in chains you may see (or look one up by GLN)"""
        return service.list_locations(get_session(), current_principal(), **args)

    @requires(*WRITERS)
    @blp.arguments(LocationCreateSchema)
    @blp.response(201, LocationSchema)
    def post(self, data):
        """Register a place: growing area, farm, pond, barn, factory, packing house, ..."""
        return service.create_location(get_session(), current_principal(), data)


@blp.route("/locations/<int:location_id>")
class LocationItem(MethodView):
    @requires(*READERS)
    @blp.response(200, LocationSchema)
    def get(self, location_id: int):
        """One location"""
        return service.get_location(get_session(), current_principal(), location_id)

    @requires(*WRITERS)
    @blp.arguments(LocationUpdateSchema)
    @blp.response(200, LocationSchema)
    def patch(self, data, location_id: int):
        """Change a location you manage"""
        return service.update_location(get_session(), current_principal(), location_id, data)


@blp.route("/certificates")
class Certificates(MethodView):
    @requires(*READERS)
    @blp.arguments(CertificateQuerySchema, location="query")
    @blp.response(200, CertificateSchema(many=True))
    def get(self, args):
        """Certificates (status is today's: valid, expired, not_yet_valid, revoked)"""
        found = service.list_certificates(get_session(), current_principal(), **args)
        return [service.certificate_json(cert) for cert in found]

    @requires(*WRITERS)
    @blp.arguments(CertificateCreateSchema)
    @blp.response(201, CertificateSchema)
    def post(self, data):
        """Register a certificate of a party, location, product or lot you manage"""
        return service.certificate_json(
            service.create_certificate(get_session(), current_principal(), data))


@blp.route("/certificates/<int:cert_id>")
class CertificateItem(MethodView):
    @requires(*READERS)
    @blp.response(200, CertificateSchema)
    def get(self, cert_id: int):
        """One certificate"""
        return service.certificate_json(
            service.get_certificate(get_session(), current_principal(), cert_id))


@blp.route("/certificates/<int:cert_id>/revoke")
class CertificateRevoke(MethodView):
    @requires(Role.ADMIN, Role.BRAND, Role.INSPECTOR)
    @blp.arguments(RevokeSchema)
    @blp.response(200, CertificateSchema)
    def post(self, data, cert_id: int):
        """Revoke a certificate (its holder, an inspector or an admin)"""
        return service.certificate_json(service.revoke_certificate(
            get_session(), current_principal(), cert_id, data["reason"]))


@blp.route("/lots")
class Lots(MethodView):
    @requires(*READERS)
    @blp.arguments(LotQuerySchema, location="query")
    @blp.response(200, LotSchema(many=True))
    def get(self, args):
        """Lots you may see"""
        return service.list_lots(get_session(), current_principal(), **args)

    @requires(*WRITERS)
    @blp.arguments(LotCreateSchema)
    @blp.response(201, LotSchema)
    def post(self, data):
        """Register a lot of a GTIN you own or are authorised for (harvests create theirs)"""
        return service.create_lot(get_session(), current_principal(), data)


@blp.route("/lots/<int:lot_id>")
class LotItem(MethodView):
    @requires(*READERS)
    @blp.response(200, LotSchema)
    def get(self, lot_id: int):
        """One lot"""
        return service.get_lot(get_session(), current_principal(), lot_id)

    @requires(*WRITERS)
    @blp.arguments(LotUpdateSchema)
    @blp.response(200, LotSchema)
    def patch(self, data, lot_id: int):
        """Change a lot's dates or quantity, or put it on hold / release it"""
        return service.update_lot(get_session(), current_principal(), lot_id, data)


@blp.route("/partners")
class Partners(MethodView):
    @requires(*READERS)
    @blp.response(200, PartnerSchema(many=True))
    def get(self):
        """Authorisations you gave or received to record events about a brand's products"""
        return service.list_partners(get_session(), current_principal())

    @requires(*WRITERS)
    @blp.arguments(PartnerCreateSchema)
    @blp.response(201, PartnerSchema)
    def post(self, data):
        """Let another organisation record events about your products (one or all)"""
        return service.add_partner(get_session(), current_principal(), data)


@blp.route("/partners/<int:partner_id>")
class PartnerItem(MethodView):
    @requires(*WRITERS)
    @blp.response(200, PartnerSchema)
    def delete(self, partner_id: int):
        """Withdraw an authorisation"""
        return service.revoke_partner(get_session(), current_principal(), partner_id)


# -- the clerk's events -----------------------------------------------------------------------

def _event_view(kind: str, schema, summary: str, roles=WRITERS):
    class EventView(MethodView):
        @requires(*roles)
        @blp.arguments(schema)
        @blp.response(201, RecordedEventSchema)
        def post(self, data):
            return events.record(get_session(), current_principal(), kind, data)

    EventView.post.__doc__ = summary
    EventView.__name__ = f"Record{kind.title()}"
    blp.route(f"/events/{kind}")(EventView)


_event_view("harvest", HarvestSchema,
            "Record a harvest: a new lot at your growing area (EPCIS ObjectEvent ADD)")
_event_view("production", HarvestSchema,
            "Record a production: a new lot made at your site (EPCIS ObjectEvent ADD)")
_event_view("transformation", TransformationSchema,
            "Record processing or packing: input lots and quantities become output lots "
            "(EPCIS TransformationEvent)")
_event_view("packing", PackingSchema,
            "Record lots packed onto a pallet or case (EPCIS AggregationEvent, SSCC parent)")
_event_view("shipment", ShipmentSchema,
            "Record a shipment to another party (EPCIS ObjectEvent shipping)")
_event_view("receipt", ReceiptSchema,
            "Record goods received at your location (EPCIS ObjectEvent receiving)")
_event_view("inspection", InspectionEventSchema,
            "Record an inspection or lab test of lots (EPCIS ObjectEvent inspecting)",
            roles=(Role.ADMIN, Role.BRAND, Role.INSPECTOR))


# -- trace queries, recall, export ----------------------------------------------------------

@blp.route("/lots/<int:lot_id>/one-step")
class LotOneStep(MethodView):
    @requires(*READERS)
    @blp.response(200, TraceDocumentSchema)
    def get(self, lot_id: int):
        """One step back (input lots, who delivered it) and one step forward (output lots,
        shipments: to whom, when, how much)"""
        return queries.one_step(get_session(), current_principal(), lot_id)


@blp.route("/lots/<int:lot_id>/lineage/backward")
class LotLineageBackward(MethodView):
    @requires(*READERS)
    @blp.response(200, TraceDocumentSchema)
    def get(self, lot_id: int):
        """Every lot upstream, to the farm lots, with places and certificates (brand of the
        product, inspectors, admins)"""
        return queries.lineage_backward(get_session(), current_principal(), lot_id)


@blp.route("/lots/<int:lot_id>/lineage/forward")
class LotLineageForward(MethodView):
    @requires(*READERS)
    @blp.response(200, TraceDocumentSchema)
    def get(self, lot_id: int):
        """Every lot downstream with its stamp ranges, shipments and the provinces where its
        stamps were scanned (brand of the product, inspectors, admins)"""
        return queries.lineage_forward(get_session(), current_principal(), lot_id)


@blp.route("/lots/<int:lot_id>/recall")
class LotRecall(MethodView):
    @requires(Role.ADMIN, Role.BRAND, Role.INSPECTOR)
    @blp.arguments(RecallSchema)
    @blp.response(200, TraceDocumentSchema)
    def post(self, data, lot_id: int):
        """Recall a lot and every lot made from it; their stamps answer "recalled" """
        return recall.recall_lot(get_session(), current_principal(), lot_id, data["reason"])


@blp.route("/lots/<int:lot_id>/export")
class LotExport(MethodView):
    @requires(*READERS)
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.response(200, content_type="text/csv")
    @blp.alt_response(200, content_type="application/vnd.openxmlformats-officedocument."
                                        "spreadsheetml.sheet", success=True)
    def get(self, args, lot_id: int):
        """The lot's trace as a sortable spreadsheet (FSMA 204-style columns), CSV or XLSX"""
        body, mime, name = export.export_file(get_session(), current_principal(), lot_id,
                                              args["direction"], args["format"])
        return Response(body, mimetype=mime, headers={
            "Content-Disposition": f'attachment; filename="{name}"'})


# -- public (no key; limited per address like the stamp page) -------------------------------

def _public_lot(gtin: str, lot: str) -> dict:
    view = public.public_lot_view(get_session(), normalize_gtin(gtin), lot)
    if view is None:
        raise NotFound(f"no trace record for lot {lot} of GTIN {gtin}")
    return view


@blp.route("/public/lots/<gtin>/<lot>")
class PublicLot(MethodView):
    decorators = [per_address]

    @blp.response(200, TraceDocumentSchema)
    @blp.alt_response(200, content_type="text/html", success=True,
                      description="the same document as a page, when Accept asks for HTML")
    def get(self, gtin: str, lot: str):
        """Circular 02/2024's ten items for a lot, with its certificates (valid today, or
        expired and marked so) and recall"""
        view = _public_lot(gtin, lot)
        if request.accept_mimetypes.best_match(("application/json", "text/html")) \
                == "text/html":
            return Response(page.render_lot(view), mimetype="text/html")
        return view


@blp.route("/public/lots/<gtin>/<lot>/certificates")
class PublicLotCertificates(MethodView):
    decorators = [per_address]

    @blp.response(200, TraceDocumentSchema)
    def get(self, gtin: str, lot: str):
        """The certificates valid today behind a lot (gs1:certificationInfo)"""
        view = _public_lot(gtin, lot)
        return {"gtin": view["gtin"], "lot": view["lot"],
                "certificates": [c for c in view["certificates"] if c["status"] == "valid"]}


@blp.route("/public/lots/<gtin>/<lot>/recall")
class PublicLotRecall(MethodView):
    decorators = [per_address]

    @blp.response(200, TraceDocumentSchema)
    def get(self, gtin: str, lot: str):
        """Whether a lot is recalled, why and since when (gs1:recallStatus)"""
        view = _public_lot(gtin, lot)
        return {"gtin": view["gtin"], "lot": view["lot"], "status": view["status"],
                "recalled": view["recall"] is not None, "recall": view["recall"]}


@blp.route("/public/products/<gtin>/certificates")
class PublicProductCertificates(MethodView):
    decorators = [per_address]

    @blp.response(200, TraceDocumentSchema)
    def get(self, gtin: str):
        """The certificates valid today of a product and its brand (gs1:certificationInfo)"""
        gtin14 = normalize_gtin(gtin)
        found = public.product_certificates(get_session(), gtin14)
        if found is None:
            raise NotFound(f"no product with GTIN {gtin}")
        return {"gtin": gtin14, "certificates": found}
