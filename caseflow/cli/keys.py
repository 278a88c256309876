"""`caseflow keys …`: the encryption keys of sensitive fields."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..security.fields import FieldKeyError, add_key_to_instance_file, new_key
from ..services.context import Actor
from ..services.field_keys import reencrypt_fields
from .util import command_group, fail


def register(app: Flask) -> None:
    keys = command_group(app, "keys", "Encryption keys of sensitive fields.")

    @keys.command("new")
    @with_appcontext
    def keys_new() -> None:
        """Add a new field key first (instance key file), or print one for CASEFLOW_FIELD_KEYS."""
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
        try:
            counts = reencrypt_fields(Actor.cli())
        except FieldKeyError as exc:
            fail(str(exc))
        for column, count in counts.items():
            click.echo(f"{column}: {count} value(s) re-encrypted")
        click.echo("Every value is now under the first key; older keys may be removed.")
