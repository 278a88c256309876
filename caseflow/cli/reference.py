"""`caseflow seed-reference`: the provinces and PPKS categories every installation needs."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from ..services.reference import seed_reference_data


def register(app: Flask) -> None:
    @app.cli.command("seed-reference")
    @with_appcontext
    def seed_reference() -> None:
        """Load the provinces and PPKS categories."""
        provinces, categories = seed_reference_data()
        click.echo(f"{provinces} provinces, {categories} PPKS categories")
