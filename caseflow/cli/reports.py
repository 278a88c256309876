"""`caseflow import FILE` (existing registers), `caseflow generate --cases N` (data at scale),
`caseflow exports purge` (export files past their time) and `caseflow reports seal` (the
figures of months that are over)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from ..errors import CaseflowError
from ..extensions import db
from ..models import User
from ..services.context import Actor


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def register(app: Flask) -> None:
    @app.cli.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--as", "username", required=True, help="The facilitator or supervisor importing.")
    @click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row has an error.")
    @click.option("--check-only", is_flag=True, help="Check every row and report; import nothing.")
    @with_appcontext
    def import_register(file: Path, username: str, all_or_nothing: bool, check_only: bool) -> None:
        """Import a register (XLSX or CSV in the template's columns) through the services."""
        from ..transfers import imports

        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            _fail(f"no user '{username}'")
        actor = Actor(user=user, via="cli")
        try:
            rows = imports.read_table(file.name, file.read_bytes())
            with click.progressbar(length=len(rows), label="Checking rows") as bar:
                last = [0]

                def checked(done: int) -> None:
                    bar.update(done - last[0])
                    last[0] = done

                checks = imports.check_rows(actor, rows, progress=checked)
        except CaseflowError as exc:
            _fail(str(exc.message))
        invalid = [c for c in checks if not c.valid]
        for check in invalid:
            for column, messages in check.errors.items():
                click.echo(f"row {check.number}, {column}: {'; '.join(messages)}", err=True)
        valid = len(checks) - len(invalid)
        click.echo(f"{valid} of {len(checks)} rows are valid, {len(invalid)} have errors")
        if check_only:
            return
        if all_or_nothing and invalid:
            _fail("rows have errors; nothing was imported (--all-or-nothing)")
        try:
            with click.progressbar(length=valid, label="Importing") as bar:
                applied = imports.apply_rows(actor, checks, all_or_nothing=all_or_nothing,
                                             progress=lambda _n: bar.update(1))
        except CaseflowError as exc:
            _fail(str(exc.message))
        click.echo(f"{len(applied)} cases imported")

    @app.cli.command("generate")
    @click.option("--cases", "case_count", default=10000, show_default=True, help="How many cases.")
    @click.option("--seed", default=2026, show_default=True, help="Random seed (same seed, same data).")
    @click.option("--batch", default=2000, show_default=True, help="Cases per transaction.")
    @with_appcontext
    def generate(case_count: int, seed: int, batch: int) -> None:
        """Realistic cases at scale, fast: bulk inserts with their audit chains computed here."""
        from ..devdata.generator import generate_cases

        with click.progressbar(length=case_count, label="Generating cases") as bar:
            summary = generate_cases(case_count, seed=seed, batch=batch, progress=bar.update, seal=False)
        click.echo(", ".join(f"{count} {name}" for name, count in summary.items()))
        # The generated history reaches back into months that may be sealed already.
        _seal_with_progress(rebuild=True)

    def _seal_with_progress(rebuild: bool) -> None:
        from ..reports import sealing
        from ..services.sealed_months import clear_sealed_months

        if rebuild:
            clear_sealed_months()
        missing = sealing.months_to_seal()
        if not missing:
            click.echo("Every month that is over is sealed already")
        else:
            cells = 0
            with click.progressbar(missing, label="Sealing months", item_show_func=lambda m: m or "") as bar:
                for label in bar:
                    cells += sealing.seal_month(label)
            click.echo(f"{len(missing)} month(s) sealed, {cells} cells ({missing[0]} to {missing[-1]})")
        so_far = sealing.seal_month_so_far()
        if so_far:
            click.echo(f"This month up to today sealed, {so_far} cells")

    reports = click.Group("reports", help="Monitoring figures.")
    app.cli.add_command(reports)

    @reports.command("seal")
    @click.option("--rebuild", is_flag=True, help="Recompute every sealed month (after restoring or generating old data).")
    @with_appcontext
    def reports_seal(rebuild: bool) -> None:
        """Keep the figures of every month that is over, and of this month up to today (run
        it daily, e.g. at 00:30 UTC)."""
        _seal_with_progress(rebuild)

    exports = click.Group("exports", help="Files of long case-list exports.")
    app.cli.add_command(exports)

    @exports.command("purge")
    @with_appcontext
    def exports_purge() -> None:
        """Delete every export file older than CASEFLOW_EXPORT_KEEP_HOURS, and erase the rows
        of imports checked that long ago but neither applied nor discarded (run it hourly)."""
        from ..transfers.export_jobs import purge_expired

        click.echo(f"{purge_expired()} expired export file(s) deleted")
