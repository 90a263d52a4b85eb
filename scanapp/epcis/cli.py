"""``flask --app scanapp epcis push|export|aggregate-scans``."""

from __future__ import annotations

import datetime as dt
import json

import click
from flask import current_app
from flask.cli import AppGroup

from ..db import session_scope
from . import exporter, mapping, query
from .settings import capture_endpoint, setting


class Day(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a date like 2026-11-25", param, ctx)


def write_export(path, events, namespace: str) -> int:
    """Write one EPCISDocument event by event, so an export of millions never sits in memory."""
    head = mapping.document([], namespace, dt.datetime.now(dt.UTC))
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        text = json.dumps(head, ensure_ascii=False, indent=2)
        # Open the empty eventList and stream the events into it.
        before, after = text.split('"eventList": []')
        out.write(before + '"eventList": [')
        for body in events:
            out.write(("," if count else "") + "\n      "
                      + json.dumps(body, ensure_ascii=False))
            count += 1
        out.write(("\n    " if count else "") + "]" + after + "\n")
    return count


def register_commands(group: AppGroup) -> None:
    group.help = "EPCIS 2.0: push events to the portal, export them to a file."

    @group.command("export")
    @click.option("--since", required=True, type=Day(),
                  help="first day (Vietnam time, UTC+7), inclusive")
    @click.option("--until", required=True, type=Day(),
                  help="last day (Vietnam time, UTC+7), inclusive")
    @click.option("--gtin", default=None, help="only this product")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
                  help="the .jsonld file to write")
    def export_command(since: dt.date, until: dt.date, gtin: str | None, output: str) -> None:
        """Write the events of a date range to one EPCISDocument file, in event-time order."""
        from ..errors import DomainError

        if until < since:
            raise click.BadParameter("--until is before --since", param_hint="--until")
        start = dt.datetime.combine(since, dt.time(), mapping.VN_TZ)
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), mapping.VN_TZ)
        try:
            flt = query.make_filter({"since": start, "until": end, "gtin": gtin})
        except DomainError as exc:
            raise click.BadParameter(exc.message) from None
        with session_scope() as session:
            count = write_export(output, query.iter_for_export(session, flt),
                                 setting(current_app, "EPCIS_NAMESPACE"))
        click.echo(f"wrote {count} events from {since} to {until} to {output}")

    @group.command("push")
    def push_command() -> None:
        """Send waiting events to the capture endpoint once (SCANAPP_EPCIS_CAPTURE_URL);
        ``flask --app scanapp worker`` does this continuously."""
        app = current_app._get_current_object()
        if not capture_endpoint(app):
            raise click.ClickException("no capture endpoint: set SCANAPP_EPCIS_CAPTURE_URL")
        result = exporter.aggregate_then_push(app)
        with session_scope(app) as session:
            status = exporter.outbox_status(session)
        click.echo(f"sent {result.sent} events; {status['pending']} waiting"
                   + (f"; last error: {result.last_error}" if result.last_error else ""))
        if result.failed:
            raise SystemExit(1)

    @group.command("aggregate-scans")
    @click.option("--day", default=None, type=Day(), help="one closed day (default: all due)")
    def aggregate_command(day: dt.date | None) -> None:
        """Record the daily consumer-scan counts (per GTIN and province) of closed days."""
        from .recorder import aggregate_scans

        with session_scope() as session:
            done = aggregate_scans(session, day=day)
        click.echo("aggregated " + (", ".join(map(str, done)) if done else "nothing new"))
