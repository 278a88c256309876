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
from ..services.backups import record_backup, record_restore, rollback_by_restoring
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
    @click.option("--force", is_flag=True,
                  help="Restore even a backup older than the database's audit history (a rollback: "
                       "recorded in the checkpoint log and reported by `caseflow audit verify`).")
    @with_appcontext
    def restore_command(file: str, yes: bool, force: bool) -> None:
        """Replace the database with the backup in FILE, then verify every audit chain.

        Stop the application first. A backup older than the database's audit history (events
        or a checkpoint it lacks) is refused unless --force. Exit 1 if refused, or if the
        restored audit trail does not verify.
        """
        if not yes:
            fail("restoring replaces the current database; run again with --yes to confirm", 2)
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        try:
            rollback = rollback_by_restoring(url, file)
        except BackupError as exc:
            fail(str(exc))
        if rollback is not None and not force:
            fail(f"the database holds newer audit history than {file}: {rollback.describe()}. Restoring "
                 "would discard it. Nothing was changed. To restore anyway, run again with --force: the "
                 "rollback is then recorded outside the database and `caseflow audit verify` reports it.")
        db.session.remove()
        db.engine.dispose()
        try:
            restore(url, file)
        except BackupError as exc:
            fail(str(exc))
        db.engine.dispose()
        # The restored database on its own; what it lost is reported below, not as damage.
        report = verify_everything(outside=False)
        try:
            record_restore(Actor.cli(), file, report.ok, rollback)
        except OSError as exc:
            fail(f"restored from {file}, but the rollback could not be written to the checkpoint log "
                 f"({exc}); it is recorded in the database's backup.restored event only")
        click.echo(f"restored from {file}: {report.chains} chains, {report.events} events, "
                   f"{report.checkpoints} checkpoints checked")
        if rollback is not None:
            click.echo(f"ROLLED BACK: {rollback.describe()} were discarded. This is recorded in the "
                       "checkpoint log; `caseflow audit verify` reports it from now on.", err=True)
        if not report.ok:
            click.echo(f"BROKEN: {report.first_problem}", err=True)
            sys.exit(1)
        click.echo("OK: the restored audit trail verifies")
