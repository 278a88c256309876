"""Backups and restores of the whole database, on SQLite and PostgreSQL.

SQLite uses its online backup API: a consistent copy while the application keeps
running, and a restore that replaces the live file's pages in one step. PostgreSQL uses
`pg_dump` (custom format) and `pg_restore` in a single transaction.

A backup holds personal data: it is created readable by its owner only (0600).

What is NOT in a backup: the instance folder's keys (the audit signing key, the field
encryption keys, the secret key). Keep them backed up separately and safely: without the
field keys the encrypted notes cannot be read, and whoever holds both can read them.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """A backup or restore could not be made; nothing was changed."""


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL (no SQLAlchemy driver suffix) and the environment that carries the
    password, so it never shows on a command line."""
    parsed = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed; install the PostgreSQL client tools")
    return path


def backup(url: str, target: str | Path) -> Path:
    """Write a consistent copy of the database at `url` to `target` (not overwritten)."""
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    backend = make_url(url).get_backend_name()
    try:
        # Created owner-only before anything is written into it; the tools keep the mode.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        if backend == "sqlite":
            source = sqlite3.connect(_sqlite_path(url))
            destination = sqlite3.connect(partial)
            try:
                with destination:
                    source.backup(destination)
                destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                destination.close()
                source.close()
        elif backend == "postgresql":
            address, env = _libpq(url)
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial), address], env=env)
        else:
            raise BackupError(f"backups of {backend} databases are not supported")
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return target


def _opened_backup(url: str, source: str | Path) -> tuple[Path, str]:
    """The backup file (checked, for SQLite) and the backend of the database at `url`."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        _check_sqlite_backup(source)
    return source, backend


def restore(url: str, source: str | Path) -> None:
    """Replace the database at `url` with the backup in `source`, all or nothing."""
    source, backend = _opened_backup(url, source)
    if backend == "sqlite":
        live = sqlite3.connect(_sqlite_path(url), timeout=30)
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            backup_db.backup(live)
        finally:
            backup_db.close()
            live.close()
    elif backend == "postgresql":
        _run([_tool("pg_restore"), "--list", str(source)], what=f"{source}: not a pg_dump backup")
        address, env = _libpq(url)
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--exit-on-error", "--dbname", address, str(source)], env=env)
    else:
        raise BackupError(f"restoring {backend} databases is not supported")


@dataclass(frozen=True)
class BackupHistory:
    """How far a backup's audit history goes: its newest event id, and every checkpoint
    it holds (id → digest)."""

    last_event_id: int
    checkpoints: dict[int, str]


def backup_history(url: str, source: str | Path) -> BackupHistory:
    """Read the audit history a backup file holds, without restoring it."""
    source, backend = _opened_backup(url, source)
    if backend == "sqlite":
        connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            last = connection.execute("SELECT coalesce(max(id), 0) FROM audit_events").fetchone()[0]
            checkpoints = dict(connection.execute("SELECT id, digest FROM audit_checkpoints"))
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source}: not a Caseflow backup ({exc})") from exc
        finally:
            connection.close()
        return BackupHistory(int(last), {int(k): str(v) for k, v in checkpoints.items()})
    if backend == "postgresql":
        _run([_tool("pg_restore"), "--list", str(source)], what=f"{source}: not a pg_dump backup")
        # Events were numbered by their sequence: its value in the dump is the last id handed
        # out when the backup was taken (no need to read every event).
        sequence = _output([_tool("pg_restore"), "--data-only", "--table=audit_events_id_seq", "--file=-",
                            str(source)])
        found = re.search(r"setval\('[^']*audit_events_id_seq', (\d+), (true|false)\)", sequence)
        last = (int(found[1]) - (0 if found[2] == "true" else 1)) if found else 0
        rows = _copy_rows(_output([_tool("pg_restore"), "--data-only", "--table=audit_checkpoints",
                                   "--file=-", str(source)]), "audit_checkpoints")
        return BackupHistory(last, {int(row["id"]): row["digest"] for row in rows})
    raise BackupError(f"restoring {backend} databases is not supported")


def _copy_rows(script: str, table: str) -> list[dict[str, str]]:
    """The rows of `table`'s COPY block in a pg_restore script (text format, tab-separated)."""
    rows: list[dict[str, str]] = []
    lines = iter(script.splitlines())
    for line in lines:
        header = re.match(rf"COPY (?:\S+\.)?{table} \((.*)\) FROM stdin;", line)
        if not header:
            continue
        columns = [name.strip().strip('"') for name in header[1].split(",")]
        for data in lines:
            if data == "\\.":
                return rows
            rows.append(dict(zip(columns, data.split("\t"), strict=False)))
    return rows


def _output(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(detail[-1] if detail else f"{Path(command[0]).name} failed")
    return result.stdout


def _check_sqlite_backup(path: Path) -> None:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if connection.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path}: the backup file is damaged")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a SQLite backup ({exc})") from exc
    if not {"alembic_version", "audit_events", "cases"} <= tables:
        raise BackupError(f"{path}: not a Caseflow backup")


def _run(command: list[str], what: str | None = None, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=env)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(what or (detail[-1] if detail else f"{Path(command[0]).name} failed"))
