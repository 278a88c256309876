"""`caseflow …` commands (the same as `flask --app caseflow …`), thin over services, one
module per area: reference data, devdata (demo and generated data), users, audit, privacy,
backups, keys, sign-offs, transfers (imports and exports), reports (sealed months), agenda
(reminders);
`util` holds what they share."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup

from . import (
    agenda,
    audit,
    backups,
    devdata,
    keys,
    privacy,
    reference,
    reports,
    sign_offs,
    transfers,
    users,
)


def _create_app(*_args, **_kwargs) -> Flask:
    from .. import create_app  # not at the top: create_app imports this package (a cycle)

    return create_app()


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, add_default_commands=True)
    cli(prog_name="caseflow")


def register_commands(app: Flask) -> None:
    """Every `caseflow …` command, by area."""
    for area in (reference, devdata, users, audit, privacy, backups, keys, sign_offs, transfers, reports, agenda):
        area.register(app)
