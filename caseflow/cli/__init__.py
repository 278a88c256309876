"""`caseflow …` commands (the same as `flask --app caseflow …`), thin over services."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from ..errors import CaseflowError
from ..extensions import db
from ..models import Role, User
from ..services.context import Actor


def _create_app(*_args, **_kwargs) -> Flask:
    from .. import create_app

    return create_app()


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, add_default_commands=True)
    cli(prog_name="caseflow")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def register_commands(app: Flask) -> None:
    @app.cli.command("seed-reference")
    @with_appcontext
    def seed_reference() -> None:
        """Load the provinces and PPKS categories."""
        from ..services.reference import seed_reference_data

        provinces, categories = seed_reference_data()
        click.echo(f"{provinces} provinces, {categories} PPKS categories")

    @app.cli.command("seed-demo")
    @click.option("--password", default=None, help="Password for every demo account (default: printed).")
    @click.option("--cases", default=36, show_default=True, help="How many demo cases.")
    @with_appcontext
    def seed_demo(password: str | None, cases: int) -> None:
        """Create demo users (one per role, two provinces) and cases in every state."""
        from ..devdata.demo import seed_demo_data

        try:
            logins = seed_demo_data(password=password, case_count=cases, progress=click.echo)
        except CaseflowError as exc:
            _fail(str(exc))
        click.echo("\nDemo logins (username / password / role):")
        for username, pw, role in logins:
            click.echo(f"  {username:<14} {pw:<22} {role}")

    users = click.Group("users", help="Manage accounts.")
    app.cli.add_command(users)

    @users.command("create")
    @click.option("--username", required=True)
    @click.option("--full-name", required=True)
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--province", "province_code", default=None, help="Two-digit province code.")
    @click.option("--supervisor", "supervisor_username", default=None, help="Supervisor's username.")
    @click.option("--nip-pppk", default=None)
    @click.option("--employment-status", default=None, type=click.Choice(["pppk", "asn", "volunteer"]))
    @click.option("--auditor-scope", default=None, help="Province code; empty means national.")
    @with_appcontext
    def users_create(username, full_name, role, password, province_code, supervisor_username,
                     nip_pppk, employment_status, auditor_scope) -> None:
        """Create an account."""
        from ..services.users import create_user

        supervisor_id = None
        if supervisor_username:
            supervisor_id = db.session.execute(
                select(User.id).where(User.username == supervisor_username)
            ).scalar_one_or_none()
            if supervisor_id is None:
                _fail(f"--supervisor: no user named '{supervisor_username}'")
        try:
            user = create_user(Actor.cli(), {
                "username": username, "full_name": full_name, "role": role, "password": password,
                "province_code": province_code, "supervisor_id": supervisor_id, "nip_pppk": nip_pppk,
                "employment_status": employment_status, "auditor_scope_province_code": auditor_scope,
            })
        except CaseflowError as exc:
            _fail(str(exc))
        click.echo(f"Created {user.username} ({user.role}), id {user.id}")

    audit = click.Group("audit", help="Audit trail: verify and seal.")
    app.cli.add_command(audit)

    @audit.command("verify")
    @with_appcontext
    def audit_verify() -> None:
        """Walk every chain and checkpoint; exit 1 and name the first break if any."""
        from ..services.audit import verify_everything

        report = verify_everything()
        click.echo(f"{report.chains} chains, {report.events} events, {report.checkpoints} checkpoints checked")
        if report.ok:
            click.echo("OK: no event was altered, removed, inserted or reordered")
            return
        click.echo(f"BROKEN: {report.first_problem}", err=True)
        for problem in report.problems[1:20]:
            click.echo(f"  also: {problem}", err=True)
        sys.exit(1)

    privacy = click.Group("privacy", help="Personal data: data-subject export and retention.")
    app.cli.add_command(privacy)

    @privacy.command("anonymise")
    @click.option("--older-than-days", type=click.IntRange(min=1), default=None,
                  help="Closed longer ago than this (default: CASEFLOW_RETENTION_DAYS).")
    @click.option("--dry-run", is_flag=True, help="List what would be anonymised, change nothing.")
    @with_appcontext
    def privacy_anonymise(older_than_days: int | None, dry_run: bool) -> None:
        """Erase personal data of clients whose cases all closed before the retention period."""
        from flask import current_app

        from ..services.privacy import anonymise_closed_cases

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
        import json

        from ..services.privacy import export_client_data

        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            _fail(f"--as: no user named '{username}'")
        try:
            data = export_client_data(Actor.cli(user), client_id)
        except CaseflowError as exc:
            _fail(str(exc))
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2)
        click.echo(f"wrote {out}: {len(data['cases'])} case(s)")

    from . import audit as cli_trust
    from . import reports as cli_reports

    cli_trust.register(app)  # audit checkpoint/verify-package/export, backup, restore, keys, sign-offs
    cli_reports.register(app)  # import, generate


if __name__ == "__main__":
    main()
