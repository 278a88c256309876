"""`caseflow seed-demo` (a demo through the services) and `caseflow generate` (data at scale)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from ..devdata.demo import seed_demo_data
from ..devdata.generator import generate_cases
from ..errors import CaseflowError
from .reports import seal_with_progress
from .util import fail


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--password", default=None, help="Password for every demo account (default: printed).")
    @click.option("--cases", default=36, show_default=True, help="How many demo cases.")
    @with_appcontext
    def seed_demo(password: str | None, cases: int) -> None:
        """Create demo users (one per role, two provinces) and cases in every state."""
        try:
            logins = seed_demo_data(password=password, case_count=cases, progress=click.echo)
        except CaseflowError as exc:
            fail(str(exc))
        click.echo("\nDemo logins (username / password / role):")
        for username, pw, role in logins:
            click.echo(f"  {username:<14} {pw:<22} {role}")

    @app.cli.command("generate")
    @click.option("--cases", "case_count", default=10000, show_default=True, help="How many cases.")
    @click.option("--seed", default=2026, show_default=True, help="Random seed (same seed, same data).")
    @click.option("--batch", default=2000, show_default=True, help="Cases per transaction.")
    @with_appcontext
    def generate(case_count: int, seed: int, batch: int) -> None:
        """Realistic cases at scale, fast: bulk inserts with their audit chains computed here."""
        with click.progressbar(length=case_count, label="Generating cases") as bar:
            summary = generate_cases(case_count, seed=seed, batch=batch, progress=bar.update, seal=False)
        click.echo(", ".join(f"{count} {name}" for name, count in summary.items()))
        # The generated history reaches back into months that may be sealed already.
        seal_with_progress(rebuild=True)
