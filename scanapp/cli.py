"""Operator commands: ``flask --app scanapp db|keys|demo ...``."""

from __future__ import annotations

import functools

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import migrations
from .auth import service as auth_service
from .db import session_scope
from .errors import DomainError

db_cli = AppGroup("db", help="Database migrations (Alembic).")
keys_cli = AppGroup("keys", help="API keys.")
scan_cli = AppGroup("scan", help="Scan history: code summaries, monthly partitions.")


@scan_cli.command("backfill-summaries")
def scan_backfill_summaries() -> None:
    """Rebuild every code's summary row from scan_events and scan_pin_checks (after a
    restore; the upgrade that added them ran it once). Stop the scan path meanwhile."""
    from .db import get_engine
    from .scan import summary

    with get_engine(current_app).begin() as conn:
        written = summary.backfill(
            conn, progress=lambda n: n % 100_000 == 0 and click.echo(f"{n:,} codes ..."))
    click.echo(f"{written:,} code summaries written")


@scan_cli.command("rebuild-filters")
def scan_rebuild_filters() -> None:
    """Fill the Redis membership filters that are not complete from the code summaries
    and mark them complete, as the worker does every 10 s (docs/SCAN.md)."""
    from .worker import rebuild_filters

    result = rebuild_filters(current_app._get_current_object())
    if result is None:
        click.echo("no membership filters (no Redis, or SCAN_FILTER_BITS=0)")
        return
    click.echo("{completed} of {buckets} buckets completed from {summaries:,} summaries "
               "in {seconds:.1f} s".format(**result))


@scan_cli.command("partitions")
def scan_partitions() -> None:
    """Create the monthly scan_events partitions ahead and apply the retention policy
    (SCAN_PARTITIONS_AHEAD, SCAN_RETENTION_MONTHS), as the worker does every hour."""
    from .worker import keep_partitions

    created, dropped = keep_partitions(current_app._get_current_object())
    click.echo(f"created: {', '.join(created) or 'none'}; dropped: {', '.join(dropped) or 'none'}")


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
def db_upgrade(revision: str) -> None:
    """Apply migrations (all branches' heads by default)."""
    migrations.upgrade(current_app, revision)
    click.echo("database is up to date")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (for example 'base')."""
    migrations.downgrade(current_app, revision)


@db_cli.command("current")
def db_current() -> None:
    """Show the applied revisions."""
    migrations.current(current_app)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--branch", required=True, help="feature branch label, e.g. core, serials")
@click.option("--empty", is_flag=True, help="do not autogenerate from the models")
def db_revision(message: str, branch: str, empty: bool) -> None:
    """Write a new migration on a feature branch."""
    migrations.revision(current_app, message, head=f"{branch}@head", autogenerate=not empty)


@keys_cli.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in auth_service.Role]))
@click.option("--org", "org_name", required=True, help="organisation name; created if new")
@click.option("--label", default=None)
@click.option("--province", default=None,
              help="authority keys: the province code it supervises ('all': nationwide)")
def keys_create(role: str, org_name: str, label: str | None, province: str | None) -> None:
    """Create an API key; the key is printed alone on the last line."""
    with session_scope() as session:
        # The authority package owns scopes; it registered this hook in init_app.
        key, raw = auth_service.issue_key(
            session, org_name, auth_service.Role(role), label, province,
            current_app.extensions.get("scanapp.authority.assign_scope"))
        click.echo(f"created {role} key {key.prefix} (id {key.id}) for {org_name!r} "
                   f"(organisation id {key.org_id}); store it now, it is not shown again:")
    click.echo(raw)


@keys_cli.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke the key whose visible prefix is PREFIX."""
    from sqlalchemy import select

    from .auth.models import ApiKey
    from .db import utcnow

    with session_scope() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if key is None:
            raise click.ClickException(f"no key with prefix {prefix}")
        key.revoked_at = key.revoked_at or utcnow()
        session.commit()
    click.echo(f"revoked {prefix}")


@click.command("demo")
@click.option("--quiet", is_flag=True)
def demo_command(quiet: bool) -> None:
    """Seed demo data (idempotent) and print how to use it."""
    from .demo import seed_demo

    seed_demo(current_app, echo=(lambda *a, **k: None) if quiet else click.echo)


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(scan_cli)
    app.cli.add_command(demo_command)


def report_domain_errors(group: click.Group) -> None:
    """Every command answers a domain error the same way: its message and exit status 1
    (click's error path), instead of each command catching them. Called once the feature
    blueprints have added their command groups."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            report_domain_errors(command)
        elif command.callback is not None and not getattr(command.callback, "_scanapp", False):
            command.callback = _reporting(command.callback)


def _reporting(callback):
    @functools.wraps(callback)
    def run(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None

    run._scanapp = True  # commands are module-level: wrap once, however many apps
    return run
