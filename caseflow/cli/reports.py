"""`caseflow reports seal`: keep the figures of the months that are over."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from ..reports import sealing
from ..services.sealed_months import clear_sealed_months
from .util import command_group


def register(app: Flask) -> None:
    reports = command_group(app, "reports", "Monitoring figures.")

    @reports.command("seal")
    @click.option("--rebuild", is_flag=True, help="Recompute every sealed month (after restoring or generating old data).")
    @with_appcontext
    def reports_seal(rebuild: bool) -> None:
        """Keep the figures of every month that is over, and of this month up to today (run
        it daily, e.g. at 00:30 UTC)."""
        seal_with_progress(rebuild)


def seal_with_progress(rebuild: bool) -> None:
    """Seal the months not sealed yet (all again with rebuild) and this month so far, saying how far it is."""
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
