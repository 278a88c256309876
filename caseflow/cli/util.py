"""What the `caseflow …` commands share: a group of commands, failing with a message and
an exit code, and finding the account a command names."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import Flask
from sqlalchemy import select

from ..extensions import db
from ..models import User


def command_group(app: Flask, name: str, help: str) -> click.Group:
    """A new group of `caseflow` commands (`caseflow <name> …`)."""
    group = click.Group(name, help=help)
    app.cli.add_command(group)
    return group


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def user_named(username: str, option: str | None = "--as") -> User:
    """The account `username`, or a failure naming the option that gave it."""
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        fail(f"{option}: no user named '{username}'" if option else f"no user named '{username}'")
    return user
