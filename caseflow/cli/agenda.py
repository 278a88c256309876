"""`caseflow agenda remind`: the agenda's reminders (what falls due tomorrow, what has
become overdue), for cron until the task queue calls `services.agenda.send_reminders`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from ..services.agenda import send_reminders
from .util import command_group


def register(app: Flask) -> None:
    agenda = command_group(app, "agenda", "The agenda's reminders.")

    @agenda.command("remind")
    @with_appcontext
    def agenda_remind() -> None:
        """Send the agenda reminders not sent yet, once per item (run it hourly:
        `15 * * * *  cd /srv/caseflow && .venv/bin/caseflow agenda remind`)."""
        click.echo(f"{send_reminders()} reminder(s) sent")
