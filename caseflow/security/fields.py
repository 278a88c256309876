"""Sensitive fields encrypted at rest (health status, notes on violence and trafficking).

A copied database file or dump shows only ciphertext: `EncryptedText` encrypts with
AES-256-GCM before a value is written and decrypts after it is read. The column's name
is bound into each ciphertext (associated data), so a value moved to another column does
not decrypt.

Keys come from the configuration CASEFLOW_FIELD_KEYS (a list, or comma-separated text:
each key 32 random bytes, urlsafe base64). New values are written with the first key;
every key in the list can still read. When none is given, one key is generated once into
the instance folder (`field_keys`, mode 600), as for the secret key.

Rotation: put a new key first (`caseflow keys new` prints one and, for the instance
file, adds it), run `caseflow keys rotate` to re-encrypt every value with it, then remove
the old key.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, has_app_context
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

PREFIX = "cf1"
KEY_FILE = "field_keys"
# What audit payloads record instead of the text: that there is a value, never the value.
MARKER = "[encrypted]"


class FieldKeyError(RuntimeError):
    """A value cannot be encrypted or decrypted with the configured keys."""


def marker(value: str | None) -> str | None:
    return MARKER if value else None


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[bytes, ...]

    @classmethod
    def from_text(cls, values: list[str] | tuple[str, ...]) -> KeyRing:
        keys = []
        for value in values:
            value = value.strip()
            if not value:
                continue
            try:
                key = base64.urlsafe_b64decode(value.encode())
            except (ValueError, TypeError) as exc:
                raise FieldKeyError("CASEFLOW_FIELD_KEYS: a key is not base64") from exc
            if len(key) != 32:
                raise FieldKeyError("CASEFLOW_FIELD_KEYS: each key must be 32 bytes (urlsafe base64)")
            keys.append(key)
        if not keys:
            raise FieldKeyError("CASEFLOW_FIELD_KEYS: no key given")
        return cls(tuple(keys))

    @staticmethod
    def key_id(key: bytes) -> str:
        return hashlib.sha256(b"caseflow-field-key:" + key).hexdigest()[:8]

    @cached_property
    def current_id(self) -> str:
        return self.key_id(self.keys[0])

    @cached_property
    def _ciphers(self) -> dict[str, AESGCM]:
        """Each key's cipher by the key's id, made once per key ring: a signed-in tablet's
        session question decrypts the offline key on every request. (Reversed: should two
        ids collide, the earlier key is the one found, as a search of the list would.)"""
        return {self.key_id(key): AESGCM(key) for key in reversed(self.keys)}

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._ciphers[self.current_id].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}:{self.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, context: str) -> str:
        try:
            prefix, key_id, body = stored.split(":", 2)
        except ValueError as exc:
            raise FieldKeyError(f"{context}: the stored value is not encrypted") from exc
        if prefix != PREFIX:
            raise FieldKeyError(f"{context}: unknown encryption format")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise FieldKeyError(f"{context}: encrypted with key {key_id}, which is not configured")
        raw = base64.urlsafe_b64decode(body.encode())
        try:
            return cipher.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise FieldKeyError(f"{context}: the value was altered or belongs to another field") from exc

    def stored_key_id(self, stored: str) -> str | None:
        parts = stored.split(":", 2)
        return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


def _configured_keys(app) -> list[str]:
    value = app.config.get("CASEFLOW_FIELD_KEYS") or os.environ.get("CASEFLOW_FIELD_KEYS")
    if value:
        return list(value) if isinstance(value, list | tuple) else value.split(",")
    path = Path(app.instance_path) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker created it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key() + "\n")
    return path.read_text().split()


def keyring() -> KeyRing:
    app = current_app._get_current_object()
    ring = app.extensions.get("caseflow.field_keys")
    if ring is None:
        ring = KeyRing.from_text(_configured_keys(app))
        app.extensions["caseflow.field_keys"] = ring
    return ring


def forget_keys() -> None:
    """After the key list changed (rotation), read it again."""
    if has_app_context():
        current_app.extensions.pop("caseflow.field_keys", None)


def add_key_to_instance_file(app) -> str | None:
    """Put a new key first in the instance key file; None when keys come from configuration."""
    if app.config.get("CASEFLOW_FIELD_KEYS") or os.environ.get("CASEFLOW_FIELD_KEYS"):
        return None
    _configured_keys(app)
    path = Path(app.instance_path) / KEY_FILE
    key = new_key()
    existing = path.read_text().split()
    temporary = path.with_name(KEY_FILE + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join([key, *existing]) + "\n")
    os.replace(temporary, path)
    app.extensions.pop("caseflow.field_keys", None)
    return key


class EncryptedText(TypeDecorator):
    """Text stored encrypted; `context` (e.g. "clients.health_notes") is bound into it."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context

    def process_bind_param(self, value, dialect):
        if value is None or value == "":
            return None
        return keyring().encrypt(str(value), self.context)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return keyring().decrypt(value, self.context)

    def __repr__(self) -> str:
        # Alembic renders the type with its context when autogenerating.
        return f"EncryptedText({self.context!r})"


# Every encrypted column, for `caseflow keys rotate`: (table, primary key column, column).
ENCRYPTED_COLUMNS: list[tuple[str, str, str]] = [
    ("clients", "id", "health_notes"),
    ("assessments", "id", "protection_notes"),
    ("users", "id", "offline_key"),
]
