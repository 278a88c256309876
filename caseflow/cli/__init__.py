"""`caseflow …` commands (the same as `flask --app caseflow …`), thin over services, one
module per area: reference data, devdata (demo and generated data), users, audit, privacy,
backups, keys, sign-offs, transfers (imports and exports), reports (sealed months), agenda
(reminders);
`util` holds what they share."""

from __future__ import annotations

import os
import sys
import traceback

import click
from flask import Flask
from flask.cli import FlaskGroup

from . import (
    agenda,
    audit,
    backups,
    devdata,
    keys,
    ops,
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
    """`caseflow …`. The application is built first: a setting or a file it cannot use is
    one clear line on stderr and exit code 2, not a traceback followed by Flask's own
    commands only (CASEFLOW_TRACEBACK=1 shows the traceback too)."""
    try:
        app = _create_app()
    except Exception as exc:  # anything that stops the start: say it, exit non-zero
        if os.environ.get("CASEFLOW_TRACEBACK") == "1":
            traceback.print_exc()
        click.echo(f"caseflow: cannot start: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    cli = FlaskGroup(create_app=lambda *_args, **_kwargs: app, add_default_commands=True,
                     load_dotenv=False, set_debug_flag=False)
    cli(prog_name="caseflow")


def register_commands(app: Flask) -> None:
    """Every `caseflow …` command, by area."""
    for area in (reference, devdata, users, audit, privacy, backups, keys, sign_offs, transfers, reports, agenda,
                 ops):
        area.register(app)
