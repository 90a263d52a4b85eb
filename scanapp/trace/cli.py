"""``flask --app scanapp trace lot|lineage|portal-document|push-portal``."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from ..auth.models import Role
from ..auth.service import Principal
from ..db import session_scope
from ..errors import DomainError
from ..gs1 import normalize_gtin
from . import portal, queries, service
from .public import public_lot_view

# Operator commands read as the system itself: everything is visible.
SYSTEM = Principal(key_id=0, org_id=0, org_name="scanapp operator", role=Role.ADMIN)


def _echo(document) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def register_commands(group: AppGroup) -> None:
    group.help = "Origin traceability: lots, lineage, the portal push."

    @group.command("lot")
    @click.argument("gtin")
    @click.argument("lot")
    def show_lot(gtin: str, lot: str) -> None:
        """A lot's public document (Circular 02/2024's ten items)."""
        with session_scope() as session:
            view = public_lot_view(session, normalize_gtin(gtin), lot)
            if view is None:
                raise click.ClickException(f"no trace record for lot {lot} of GTIN {gtin}")
            _echo(view)

    @group.command("lineage")
    @click.argument("gtin")
    @click.argument("lot")
    @click.option("--forward", is_flag=True, help="downstream (default: upstream)")
    def lineage(gtin: str, lot: str, forward: bool) -> None:
        """Full lineage of a lot, backward to the farms or forward to every stamp."""
        with session_scope() as session:
            try:
                found = service.find_lot(session, SYSTEM, gtin, lot)
                walk = queries.lineage_forward if forward else queries.lineage_backward
                _echo(walk(session, SYSTEM, found.id))
            except DomainError as exc:
                raise click.ClickException(exc.message) from None

    @group.command("stamp")
    @click.argument("uri")
    def stamp(uri: str) -> None:
        """Backward from a stamp: its signature checked, its lot, the lineage to the farms."""
        from ..serials.codec import InvalidSerial, get_codec
        from ..serials.stamps import parse_stamp_uri

        try:
            ref = parse_stamp_uri(uri)
            get_codec(current_app).verify(ref.serial, ref.gtin, ref.lot)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        except InvalidSerial as exc:
            raise click.ClickException(f"not a genuine stamp ({exc.reason})") from None
        if not ref.lot:
            raise click.ClickException("this stamp carries no lot (AI 10)")
        with session_scope() as session:
            try:
                found = service.find_lot(session, SYSTEM, ref.gtin, ref.lot)
                back = queries.lineage_backward(session, SYSTEM, found.id)
            except DomainError as exc:
                raise click.ClickException(exc.message) from None
            _echo({"stamp": {"gtin": ref.gtin, "lot": ref.lot, "serial": ref.serial},
                   "lot": back["lot"], "farm_lots": back["farm_lots"],
                   "places": back["places"], "certificates": back["certificates"],
                   "upstream": [{k: x[k] for k in ("gtin", "lot", "product", "depth")}
                                for x in back["upstream"]]})

    @group.command("portal-document")
    @click.argument("gtin")
    @click.argument("lot")
    def portal_document(gtin: str, lot: str) -> None:
        """The JSON document the National Traceability Portal receives for a lot."""
        with session_scope() as session:
            try:
                found = service.find_lot(session, SYSTEM, gtin, lot)
            except DomainError as exc:
                raise click.ClickException(exc.message) from None
            _echo(portal.portal_document(session, found))

    @group.command("push-portal")
    def push_portal() -> None:
        """Send every pending lot document to SCANAPP_TRACE_PORTAL_URL."""
        result = portal.push_pending(current_app)
        click.echo(f"sent {result.sent} lot documents, {result.failed} failed"
                   + (f": {result.last_error}" if result.last_error else ""))
