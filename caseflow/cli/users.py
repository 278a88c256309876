"""`caseflow users …`: accounts."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from ..errors import CaseflowError
from ..models import Role
from ..services.account_changes import confirm_change, reject_change, waiting_changes
from ..services.context import Actor
from ..services.users import create_user
from .util import command_group, fail, user_named


def register(app: Flask) -> None:
    users = command_group(app, "users", "Manage accounts.")

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
        """Create an account. A supervisor, auditor or administrator made here is usable at
        once (whoever runs this holds the server) and is listed for auditors."""
        supervisor_id = user_named(supervisor_username, "--supervisor").id if supervisor_username else None
        try:
            user = create_user(Actor.cli(), {
                "username": username, "full_name": full_name, "role": role, "password": password,
                "province_code": province_code, "supervisor_id": supervisor_id, "nip_pppk": nip_pppk,
                "employment_status": employment_status, "auditor_scope_province_code": auditor_scope,
            })
        except CaseflowError as exc:
            fail(str(exc))
        click.echo(f"Created {user.username} ({user.role}), id {user.id}")

    @users.command("changes")
    @with_appcontext
    def users_changes() -> None:
        """List the privileged account changes waiting for a second administrator."""
        waiting = waiting_changes()
        for change in waiting:
            asked = change.requested_by.username if change.requested_by else "command line"
            click.echo(f"{change.id}\t{change.kind}\t{change.target.username} ({change.target.role})\t"
                       f"{change.payload}\tasked by {asked} at {change.requested_at:%Y-%m-%d %H:%M} UTC")
        click.echo(f"{len(waiting)} change(s) waiting")

    @users.command("confirm")
    @click.argument("change_id", type=int)
    @with_appcontext
    def users_confirm(change_id: int) -> None:
        """Confirm a waiting privileged account change (the server's operator acts as the
        second administrator; audited as done on the command line)."""
        try:
            change = confirm_change(Actor.cli(), change_id)
        except CaseflowError as exc:
            fail(str(exc))
        click.echo(f"Confirmed change {change.id} ({change.kind}) for {change.target.username}")

    @users.command("reject")
    @click.argument("change_id", type=int)
    @click.option("--reason", required=True, help="Why the change is rejected.")
    @with_appcontext
    def users_reject(change_id: int, reason: str) -> None:
        """Reject a waiting privileged account change; it never takes effect."""
        try:
            change = reject_change(Actor.cli(), change_id, reason)
        except CaseflowError as exc:
            fail(str(exc))
        click.echo(f"Rejected change {change.id} ({change.kind}) for {change.target.username}")
