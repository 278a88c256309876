"""`caseflow …` commands for trust: evidence packages, periodic checkpoints.

Registered by `caseflow.cli.register_commands` through `register(app)`.
"""

from __future__ import annotations

import sys
import time
from datetime import date

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from ..errors import CaseflowError
from ..extensions import db
from ..models import Case, User
from ..services.context import Actor


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _user(username: str) -> User:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        _fail(f"--as: no user named '{username}'")
    return user


def register(app: Flask) -> None:
    audit = app.cli.commands.get("audit")
    if audit is None:
        audit = click.Group("audit", help="Audit trail: verify and seal.")
        app.cli.add_command(audit)

    @audit.command("verify-package")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
                  help="The server's public key (PEM) to trust; without it the package's own key is used "
                       "and its fingerprint printed for comparison.")
    def verify_package(file: str, public_key: str | None) -> None:
        """Verify an evidence package: exit 0 if it holds, 1 if tampered with, 2 if unreadable.

        Needs no database: only the package, the standard library and `cryptography`.
        """
        from ..audit.package import run_verifier

        code = run_verifier(file, public_key, click.echo, lambda line: click.echo(line, err=True))
        sys.exit(code)

    # Replaces the foundation's `audit checkpoint` with the same command plus --every.
    @audit.command("checkpoint")
    @click.option("--every", type=click.IntRange(min=1), default=None, metavar="SECONDS",
                  help="Keep running and seal every SECONDS (for deployments without cron or systemd timers).")
    @click.option("--count", type=click.IntRange(min=1), default=None, hidden=True,
                  help="With --every: stop after this many rounds (tests).")
    @with_appcontext
    def audit_checkpoint(every: int | None, count: int | None) -> None:
        """Seal the current chain heads with a signed checkpoint.

        Cron line (every 10 minutes):
        */10 * * * *  cd /srv/caseflow && .venv/bin/caseflow audit checkpoint >> /var/log/caseflow-checkpoint.log 2>&1
        """
        from ..services.audit import create_checkpoint

        if every is None:
            checkpoint = create_checkpoint(Actor.cli(), force=True)
            click.echo(f"checkpoint {checkpoint.id}: {checkpoint.entry_count} chain heads sealed, "
                       f"digest {checkpoint.digest}")
            return
        rounds = 0
        while True:
            started = time.monotonic()
            try:
                checkpoint = create_checkpoint(Actor.cli())
            except CaseflowError as exc:
                # A busy or read-only database is not a reason to stop sealing later.
                click.echo(f"checkpoint skipped: {exc}", err=True)
                checkpoint = None
            if checkpoint is not None:
                click.echo(f"checkpoint {checkpoint.id}: {checkpoint.entry_count} chain heads sealed, "
                           f"digest {checkpoint.digest}", )
            db.session.remove()
            rounds += 1
            if count is not None and rounds >= count:
                return
            time.sleep(max(0.0, every - (time.monotonic() - started)))

    @audit.command("export-case")
    @click.argument("case_number")
    @click.option("--as", "username", required=True, help="The auditor exporting.")
    @click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None,
                  help="Where to write the ZIP (default: its own name in the current folder).")
    @with_appcontext
    def export_case(case_number: str, username: str, out: str | None) -> None:
        """Write the evidence package of one case."""
        from ..services.evidence import export_case_package

        user = _user(username)
        case_id = db.session.execute(select(Case.id).where(Case.number == case_number)).scalar_one_or_none()
        if case_id is None:
            _fail(f"no case numbered '{case_number}'")
        try:
            package = export_case_package(Actor.cli(user), case_id)
        except CaseflowError as exc:
            _fail(str(exc))
        _write(package, out)

    @audit.command("export-facilitator")
    @click.argument("facilitator_username")
    @click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--until", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--as", "username", required=True, help="The auditor exporting.")
    @click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None)
    @with_appcontext
    def export_facilitator(facilitator_username: str, start, end, username: str, out: str | None) -> None:
        """Write the evidence package of one facilitator's actions over a period (whole days)."""
        from ..services.evidence import export_facilitator_package

        user = _user(username)
        facilitator = db.session.execute(
            select(User).where(User.username == facilitator_username)).scalar_one_or_none()
        if facilitator is None:
            _fail(f"no user named '{facilitator_username}'")
        try:
            package = export_facilitator_package(Actor.cli(user), facilitator.id, date.fromordinal(
                start.toordinal()), date.fromordinal(end.toordinal()))
        except CaseflowError as exc:
            _fail(str(exc))
        _write(package, out)


    @app.cli.command("backup")
    @click.argument("file", type=click.Path(dir_okay=False))
    @with_appcontext
    def backup_command(file: str) -> None:
        """Write a consistent copy of the database to FILE (SQLite online backup; pg_dump).

        The instance folder's keys are not in it: back them up separately.
        """
        from flask import current_app

        from ..security.backup import BackupError, backup
        from ..services.backups import record_backup

        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        try:
            record_backup(Actor.cli(), file)
            path = backup(url, file)
        except BackupError as exc:
            _fail(str(exc))
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
        from flask import current_app

        from ..security.backup import BackupError, restore
        from ..services.audit import verify_everything
        from ..services.backups import record_restore

        if not yes:
            _fail("restoring replaces the current database; run again with --yes to confirm", 2)
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        db.session.remove()
        db.engine.dispose()
        try:
            restore(url, file)
        except BackupError as exc:
            _fail(str(exc))
        db.engine.dispose()
        report = verify_everything()
        record_restore(Actor.cli(), file, report.ok)
        click.echo(f"restored from {file}: {report.chains} chains, {report.events} events, "
                   f"{report.checkpoints} checkpoints checked")
        if not report.ok:
            click.echo(f"BROKEN: {report.first_problem}", err=True)
            sys.exit(1)
        click.echo("OK: the restored audit trail verifies")


    keys = click.Group("keys", help="Encryption keys of sensitive fields.")
    app.cli.add_command(keys)

    @keys.command("new")
    @with_appcontext
    def keys_new() -> None:
        """Add a new field key first (instance key file), or print one for CASEFLOW_FIELD_KEYS."""
        from flask import current_app

        from ..security.fields import add_key_to_instance_file, new_key

        added = add_key_to_instance_file(current_app)
        if added is None:
            click.echo("Keys come from CASEFLOW_FIELD_KEYS. Put this new key FIRST in that list, "
                       "restart, then run `caseflow keys rotate`:")
            click.echo(new_key())
            return
        click.echo("A new key was added first to the instance key file; "
                   "run `caseflow keys rotate` to re-encrypt every value with it.")

    @keys.command("rotate")
    @with_appcontext
    def keys_rotate() -> None:
        """Re-encrypt every sensitive value with the newest (first) key."""
        from ..security.fields import FieldKeyError
        from ..services.field_keys import reencrypt_fields

        try:
            counts = reencrypt_fields(Actor.cli())
        except FieldKeyError as exc:
            _fail(str(exc))
        for column, count in counts.items():
            click.echo(f"{column}: {count} value(s) re-encrypted")
        click.echo("Every value is now under the first key; older keys may be removed.")


    sign_offs = click.Group("sign-offs", help="Sign-off deadlines and escalation.")
    app.cli.add_command(sign_offs)

    @sign_offs.command("escalate")
    @with_appcontext
    def sign_offs_escalate() -> None:
        """Escalate every sign-off past its working-day deadline (run it hourly from cron:
        `0 * * * *  cd /srv/caseflow && .venv/bin/caseflow sign-offs escalate`)."""
        from ..services.sign_off_policy import escalate_overdue_sign_offs

        done = escalate_overdue_sign_offs(Actor.cli())
        for item in done:
            target = f"role {item.to_role}" if item.to_role else "the supervisor's supervisor"
            click.echo(f"case {item.case_number}: sign-off {item.sign_off_id} escalated to {target} "
                       f"({len(item.to_user_ids)} notified)")
        click.echo(f"{len(done)} sign-off(s) escalated")


def _write(package, out: str | None) -> None:
    path = out or package.filename
    with open(path, "wb") as handle:
        handle.write(package.data)
    click.echo(f"wrote {path}: {package.chains} chain(s), {package.events} event(s), sha256 {package.sha256}")
