"""`caseflow sign-offs escalate`: sign-offs past their working-day deadline."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from ..services.context import Actor
from ..services.sign_off_policy import escalate_overdue_sign_offs
from .util import command_group


def register(app: Flask) -> None:
    sign_offs = command_group(app, "sign-offs", "Sign-off deadlines and escalation.")

    @sign_offs.command("escalate")
    @with_appcontext
    def sign_offs_escalate() -> None:
        """Escalate every sign-off past its working-day deadline (run it hourly from cron:
        `0 * * * *  cd /srv/caseflow && .venv/bin/caseflow sign-offs escalate`)."""
        done = escalate_overdue_sign_offs(Actor.cli())
        for item in done:
            target = f"role {item.to_role}" if item.to_role else "the supervisor's supervisor"
            click.echo(f"case {item.case_number}: sign-off {item.sign_off_id} escalated to {target} "
                       f"({len(item.to_user_ids)} notified)")
        click.echo(f"{len(done)} sign-off(s) escalated")
