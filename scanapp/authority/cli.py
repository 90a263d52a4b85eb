"""Operator commands: ``flask --app scanapp authority check|report``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from ..db import session_scope

authority_cli = AppGroup("authority", help="Provincial authorities: nightly checks, reports.")


@authority_cli.command("check")
@click.option("--rule", "only", multiple=True, help="run only this rule (repeatable)")
def check(only: tuple[str, ...]) -> None:
    """Run every data-quality rule over all data (nightly); print the new findings."""
    from . import rules

    unknown = [name for name in only if name not in rules.RULES_BY_NAME]
    if unknown:
        raise click.ClickException(f"unknown rule(s): {', '.join(unknown)}; rules: "
                                   + ", ".join(rules.RULES_BY_NAME))
    with session_scope() as session:
        new = rules.run(session, None, found_by="nightly", only=only or None)
        session.commit()
        for finding in new:
            click.echo(f"{finding.rule}\t{finding.province or '--'}\t{finding.message_vi}")
        click.echo(f"{len(new)} new finding(s)")


def init_app(app: Flask) -> None:
    app.cli.add_command(authority_cli)
