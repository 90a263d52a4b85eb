"""``flask --app scanapp serials ...``: signing keys (benchmarks live in loadtests/)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..db import session_scope
from . import keys

serials_cli = AppGroup("serials", help="Serial signing keys.")


@serials_cli.command("keys")
def list_keys_command() -> None:
    """List signing keys: id, status, created."""
    with session_scope() as session:
        for key in keys.list_keys(session):
            click.echo(f"{key.id:>2}  {key.status:<11}  {key.created_at:%Y-%m-%d %H:%M}  "
                       f"{key.note or ''}".rstrip())


@serials_cli.command("rotate-key")
@click.option("--note", default=None)
def rotate_key_command(note: str | None) -> None:
    """Retire the active key and start signing with a new one."""
    with session_scope() as session:
        key = keys.rotate(session, note)
        click.echo(f"key {key.id} is now active; older serials keep verifying")


@serials_cli.command("compromise-key")
@click.argument("key_id", type=int)
@click.option("--note", default=None)
def compromise_key_command(key_id: int, note: str | None) -> None:
    """Mark KEY_ID compromised: its serials fail verification from now on."""
    with session_scope() as session:
        keys.compromise(session, key_id, note)
        click.echo(f"key {key_id} marked compromised")
