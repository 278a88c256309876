"""`caseflow import FILE` (existing registers) and `caseflow exports purge` (export files past
their time)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from ..errors import CaseflowError
from ..services.context import Actor
from ..transfers import imports
from ..transfers.export_jobs import purge_expired
from .util import command_group, fail, user_named


def register(app: Flask) -> None:
    @app.cli.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--as", "username", required=True, help="The facilitator or supervisor importing.")
    @click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row has an error.")
    @click.option("--check-only", is_flag=True, help="Check every row and report; import nothing.")
    @with_appcontext
    def import_register(file: Path, username: str, all_or_nothing: bool, check_only: bool) -> None:
        """Import a register (XLSX or CSV in the template's columns) through the services."""
        actor = Actor(user=user_named(username), via="cli")
        try:
            limits = imports.ImportLimits.from_config()
            with file.open("rb") as handle:  # never more than the limit in memory
                rows = imports.read_table(file.name, handle.read(limits.max_bytes + 1), limits)
            with click.progressbar(length=len(rows), label="Checking rows") as bar:
                last = [0]

                def checked(done: int) -> None:
                    bar.update(done - last[0])
                    last[0] = done

                checks = imports.check_rows(actor, rows, progress=checked)
        except CaseflowError as exc:
            fail(str(exc.message))
        invalid = [c for c in checks if not c.valid]
        for check in invalid:
            for column, messages in check.errors.items():
                click.echo(f"row {check.number}, {column}: {'; '.join(messages)}", err=True)
        valid = len(checks) - len(invalid)
        click.echo(f"{valid} of {len(checks)} rows are valid, {len(invalid)} have errors")
        if check_only:
            return
        if all_or_nothing and invalid:
            fail("rows have errors; nothing was imported (--all-or-nothing)")
        try:
            with click.progressbar(length=valid, label="Importing") as bar:
                applied = imports.apply_rows(actor, checks, all_or_nothing=all_or_nothing,
                                             progress=lambda _n: bar.update(1))
        except CaseflowError as exc:
            fail(str(exc.message))
        click.echo(f"{len(applied)} cases imported")

    exports = command_group(app, "exports", "Files of long case-list exports.")

    @exports.command("purge")
    @with_appcontext
    def exports_purge() -> None:
        """Delete every export file older than CASEFLOW_EXPORT_KEEP_HOURS, and erase the rows
        of imports checked that long ago but neither applied nor discarded (run it hourly)."""
        click.echo(f"{purge_expired()} expired export file(s) deleted")
