"""`caseflow privacy …`: a client's data on request, and erasing it after the retention period."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..errors import CaseflowError
from ..services.context import Actor
from ..services.privacy import anonymise_closed_cases, export_client_data
from .util import command_group, fail, user_named


def register(app: Flask) -> None:
    privacy = command_group(app, "privacy", "Personal data: data-subject export and retention.")

    @privacy.command("anonymise")
    @click.option("--older-than-days", type=click.IntRange(min=1), default=None,
                  help="Closed longer ago than this (default: CASEFLOW_RETENTION_DAYS).")
    @click.option("--dry-run", is_flag=True, help="List what would be anonymised, change nothing.")
    @with_appcontext
    def privacy_anonymise(older_than_days: int | None, dry_run: bool) -> None:
        """Erase personal data of clients whose cases all closed before the retention period."""
        days = older_than_days or current_app.config["CASEFLOW_RETENTION_DAYS"]
        report = anonymise_closed_cases(Actor.cli(), days, dry_run=dry_run)
        verb = "would anonymise" if dry_run else "anonymised"
        click.echo(f"{verb} {len(report.clients)} client(s), {len(report.cases)} case(s) closed before "
                   f"{report.cutoff:%Y-%m-%d}; {len(report.skipped_clients)} client(s) kept (a case still open or recent)")

    @privacy.command("export-client")
    @click.argument("client_id", type=int)
    @click.option("--as", "username", required=True, help="The supervisor or auditor answering the request.")
    @click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True)
    @with_appcontext
    def privacy_export_client(client_id: int, username: str, out: str) -> None:
        """Write everything held about one client to a JSON file."""
        user = user_named(username)
        try:
            data = export_client_data(Actor.cli(user), client_id)
        except CaseflowError as exc:
            fail(str(exc))
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2)
        click.echo(f"wrote {out}: {len(data['cases'])} case(s)")
