"""`caseflow backup FILE` and `caseflow restore FILE`: a consistent copy of the database, and
putting one back (then verifying every audit chain)."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..security.backup import BackupError, backup, restore
from ..services.audit import verify_everything
from ..services.backups import record_backup, record_restore
from ..services.context import Actor
from .util import fail


def register(app: Flask) -> None:
    @app.cli.command("backup")
    @click.argument("file", type=click.Path(dir_okay=False))
    @with_appcontext
    def backup_command(file: str) -> None:
        """Write a consistent copy of the database to FILE (SQLite online backup; pg_dump).

        The instance folder's keys are not in it: back them up separately.
        """
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        try:
            record_backup(Actor.cli(), file)
            path = backup(url, file)
        except BackupError as exc:
            fail(str(exc))
        click.echo(f"backup written to {path} ({path.stat().st_size} bytes)")
        click.echo("Remember: the keys in the instance folder are not in the backup; keep them safe separately.")

    @app.cli.command("restore")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--yes", is_flag=True, help="Confirm: the current database is replaced.")
    @with_appcontext
    def restore_command(file: str, yes: bool) -> None:
        """Replace the database with the backup in FILE, then verify every audit chain.

        Stop the application first. Exit 1 if the restored audit trail does not verify.
        """
        if not yes:
            fail("restoring replaces the current database; run again with --yes to confirm", 2)
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        db.session.remove()
        db.engine.dispose()
        try:
            restore(url, file)
        except BackupError as exc:
            fail(str(exc))
        db.engine.dispose()
        report = verify_everything()
        record_restore(Actor.cli(), file, report.ok)
        click.echo(f"restored from {file}: {report.chains} chains, {report.events} events, "
                   f"{report.checkpoints} checkpoints checked")
        if not report.ok:
            click.echo(f"BROKEN: {report.first_problem}", err=True)
            sys.exit(1)
        click.echo("OK: the restored audit trail verifies")
