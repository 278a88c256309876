"""The applications the tests run against: one per database for the whole session, with a
clean database and a clean application state restored before each test.

Building an application costs about 0.15 s and migrating a database seconds, so the suite
builds one application per backend (SQLite always, PostgreSQL when
CASEFLOW_TEST_POSTGRES_URL is set) and, between tests, puts back what a test may have
changed: the database (SQLite: the migrated file copied back; PostgreSQL: the tables that
hold rows emptied, the sequences used restarted), the configuration, the instance folder,
the test client class and the field-key cache. Tests that need an application built with
other settings get one from the `app_with` fixture (see `AppBuilder`).

The people of `team`, the cases of the report tests' `programme` and each case `make.case`
walks to a state are made through the services by the first test that asks for them; the
rows they wrote are kept, and later tests on an untouched database get those rows copied
back instead (`SharedApp.prepared`).
CASEFLOW_TEST_NO_SNAPSHOTS=1 makes every test build them again.

Rolling back one outer transaction per test (instead of restoring) does not fit this
application: every service commits through `write_transaction()`, and the concurrency
tests write from several connections at once, which must see each other's commits.
"""

from __future__ import annotations

import copy
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app
from flask_migrate import upgrade as alembic_upgrade
from sqlalchemy import event
from sqlalchemy.orm.state import InstanceState

from caseflow import create_app
from caseflow.api import api
from caseflow.database import _clock
from caseflow.extensions import db, limiter
from caseflow.services.reference import seed_reference_data

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("CASEFLOW_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
# Tables whose rows come with the migrations (reference data), kept between tests.
KEPT_TABLES = ("alembic_version", "provinces", "ppks_categories")
SNAPSHOTS = os.environ.get("CASEFLOW_TEST_NO_SNAPSHOTS") != "1"
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "TRUNCATE", "COPY")


def app_config(database_url: str, instance: Path, **extra) -> dict:
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "CASEFLOW_AUDIT_KEY_PATH": str(instance / "audit_key.pem"),
        "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
        "RATELIMIT_ENABLED": False,
        # Cheap password hashing: the suite creates thousands of accounts. Production keeps
        # OWASP's settings (tests/test_config.py checks the defaults).
        "CASEFLOW_ARGON2_TIME_COST": 1,
        "CASEFLOW_ARGON2_MEMORY_KIB": 256,
    }
    config.update(extra)
    return config


def build_app(database_url: str, instance: Path, **extra) -> Flask:
    """A new application on `database_url` with its instance folder at `instance`."""
    previous = os.environ.get("CASEFLOW_INSTANCE_PATH")
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(instance)
    try:
        return create_app(app_config(database_url, instance, **extra))
    finally:
        if previous is None:
            os.environ.pop("CASEFLOW_INSTANCE_PATH", None)
        else:
            os.environ["CASEFLOW_INSTANCE_PATH"] = previous


def migrate(app: Flask) -> None:
    with app.app_context():
        alembic_upgrade(revision="heads")
        seed_reference_data()
        db.session.remove()


def memory_directory(prefix: str) -> Path:
    """A scratch directory in memory (/dev/shm) where there is one: SQLite syncs every commit
    to disk (synchronous=FULL, which the suite checks), and on tmpfs a sync costs nothing."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


class ExtensionState:
    """Flask-Limiter's `limiter` and flask-smorest's `api` are module-level objects that keep
    what the last `init_app` gave them (whether limits apply, their storage, the OpenAPI
    document): an application built for one test (rate limiting on, say) must not leave
    them to the shared applications."""

    def __init__(self) -> None:
        self.saved = [(extension, dict(vars(extension))) for extension in (limiter, api)]

    def restore(self) -> None:
        for extension, saved in self.saved:
            vars(extension).clear()
            vars(extension).update(saved)


# --- databases --------------------------------------------------------------------------


class SqliteDatabase:
    """One database file for the session, copied back from the migrated template before
    each test (a copy in memory takes well under a millisecond)."""

    backend = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "caseflow.sqlite3"
        self.template = directory / "template.sqlite3"
        self.url = f"sqlite:///{self.path}"

    def keep_as_template(self, engine: sa.Engine) -> None:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        shutil.copyfile(self.path, self.template)

    def capture(self, engine: sa.Engine, name: str) -> Path:
        """A copy of the database as committed now (SQLite's backup reads a consistent
        snapshot, whatever the test's own session holds open)."""
        copy_path = self.directory / f"{name}.sqlite3"
        source, target = sqlite3.connect(self.path), sqlite3.connect(copy_path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return copy_path

    def restore(self, engine: sa.Engine, snapshot: Path | None = None) -> None:
        """The database as migrated (or as `snapshot` holds it)."""
        engine.dispose()
        # A new file under the old name: a connection a test left open keeps the old one.
        fresh = self.path.with_name(self.path.name + ".fresh")
        shutil.copyfile(snapshot or self.template, fresh)
        os.replace(fresh, self.path)
        for suffix in ("-wal", "-shm", "-journal"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def postgres_url(database: str) -> str:
    url = sa.engine.make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database=database).render_as_string(hide_password=False)


class PostgresDatabase:
    """A private database for this run (parallel runs do not meet). Before each test the
    tables that hold rows are emptied with DELETE (TRUNCATE costs about a second for the
    whole schema, DELETE of a test's few rows a few milliseconds) and the sequences that
    were used restart at 1, as after `TRUNCATE … RESTART IDENTITY`."""

    backend = "postgres"

    def __init__(self) -> None:
        self.name = f"caseflow_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url = postgres_url(self.name)
        self.admin_url = postgres_url("postgres")
        admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            # Commits need not wait for the server's disk: a test database outlives no crash.
            connection.exec_driver_sql(f'ALTER DATABASE "{self.name}" SET synchronous_commit = off')
        admin.dispose()
        self.tables: list[str] = []
        self.probe = ""

    def keep_as_template(self, engine: sa.Engine) -> None:
        """Learn the tables to empty, children before parents (the order of the models)."""
        with engine.connect() as connection:
            present = {row[0] for row in connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        ordered = [t.name for t in reversed(db.metadata.sorted_tables)]
        unknown = sorted(present - set(ordered) - set(KEPT_TABLES))
        if unknown:
            raise RuntimeError(f"tables without a model cannot be emptied between tests: {unknown}")
        self.tables = [name for name in ordered if name in present and name not in KEPT_TABLES]
        holds_rows = ", ".join(f'EXISTS (SELECT 1 FROM "{name}")' for name in self.tables)
        self.probe = (
            "SELECT ARRAY(SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
            "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL), "
            + holds_rows
        )
        engine.dispose()

    def capture(self, engine: sa.Engine, name: str) -> tuple[list[tuple[str, bytes]], list[tuple[str, int]]]:
        """The rows of every table that holds some (parents first), and the sequences used."""
        with engine.connect() as connection:
            sequences, *holds_rows = connection.exec_driver_sql(self.probe).one()
            used = [(sequence, connection.exec_driver_sql(f"SELECT last_value FROM {sequence}").scalar())
                    for sequence in sequences]
            cursor = connection.connection.driver_connection.cursor()
            rows = []
            for table, holds in reversed(list(zip(self.tables, holds_rows, strict=True))):
                if holds:
                    with cursor.copy(f'COPY "{table}" TO STDOUT (FORMAT binary)') as copy:
                        rows.append((table, b"".join(bytes(block) for block in copy)))
            connection.rollback()
        return rows, used

    def restore(self, engine: sa.Engine, snapshot=None) -> None:
        """Only the reference data (or the rows `snapshot` holds)."""
        with engine.begin() as connection:
            sequences, *holds_rows = connection.exec_driver_sql(self.probe).one()
            statements = [f'DELETE FROM "{name}"' for name, rows in zip(self.tables, holds_rows, strict=True)
                          if rows]
            statements += [f"SELECT setval('{sequence}', 1, false)" for sequence in sequences]
            if statements:
                # Audit rows may be deleted only in maintenance (migration 0005_trust).
                connection.exec_driver_sql(
                    "; ".join(["SET LOCAL caseflow.maintenance = 'on'", *statements]))
            if snapshot:
                rows, used = snapshot
                cursor = connection.connection.driver_connection.cursor()
                for table, data in rows:
                    with cursor.copy(f'COPY "{table}" FROM STDIN (FORMAT binary)') as copy:
                        copy.write(data)
                for sequence, value in used:
                    connection.exec_driver_sql(f"SELECT setval('{sequence}', {int(value)}, true)")

    def close(self) -> None:
        """DROP DATABASE waits for a server checkpoint (seconds on a busy server): a detached
        process drops it, so the run does not wait."""
        script = (
            "import sys, sqlalchemy as sa\n"
            "engine = sa.create_engine(sys.argv[1], isolation_level='AUTOCOMMIT')\n"
            "with engine.connect() as connection:\n"
            "    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS \"{sys.argv[2]}\" WITH (FORCE)')\n"
        )
        subprocess.Popen([sys.executable, "-c", script, self.admin_url, self.name],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


# --- the shared applications ------------------------------------------------------------


class Snapshot:
    """The rows a build wrote, the factory's counter after it, what it returned (rows as
    keys), and whether it left the test's session inside a read transaction."""

    def __init__(self, rows, counter: int, result, reading: bool) -> None:
        self.rows, self.counter, self.result, self.reading = rows, counter, result, reading


class _Row:
    def __init__(self, model, identity) -> None:
        self.model, self.identity = model, identity


class _Object:
    def __init__(self, cls, attributes: dict) -> None:
        self.cls, self.attributes = cls, attributes


def _freeze(value):
    """`value` with every database row in it replaced by its class and primary key."""
    state = sa.inspect(value, raiseerr=False)
    if isinstance(state, InstanceState):
        return _Row(type(value), state.identity)
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_freeze(v) for v in value)
    if type(value).__module__.startswith("tests.") and hasattr(value, "__dict__"):
        return _Object(type(value), {k: _freeze(v) for k, v in vars(value).items()})
    return copy.deepcopy(value)


def _rows_of(frozen, found: dict) -> dict:
    """{model: [identity, …]} of the rows `_freeze` kept."""
    if isinstance(frozen, _Row):
        found.setdefault(frozen.model, []).append(frozen.identity)
    elif isinstance(frozen, _Object):
        _rows_of(list(frozen.attributes.values()), found)
    elif isinstance(frozen, dict):
        _rows_of(list(frozen.values()), found)
    elif isinstance(frozen, list | tuple):
        for value in frozen:
            _rows_of(value, found)
    return found


def _load_rows(frozen) -> list:
    """Load the rows `_thaw` will ask for with one query per model (not one per row). Keep
    what it returns while thawing: the session holds its objects only weakly."""
    loaded = []
    for model, identities in _rows_of(frozen, {}).items():
        key = sa.inspect(model).primary_key
        if len(key) == 1 and len(identities) > 1:
            loaded += db.session.execute(
                sa.select(model).where(key[0].in_([i[0] for i in identities]))).scalars().all()
    return loaded


def _thaw(frozen):
    """What `_freeze` kept, with its rows loaded in the current session."""
    if isinstance(frozen, _Row):
        return db.session.get(frozen.model, frozen.identity)
    if isinstance(frozen, _Object):
        thawed = frozen.cls.__new__(frozen.cls)
        thawed.__dict__.update({k: _thaw(v) for k, v in frozen.attributes.items()})
        return thawed
    if isinstance(frozen, dict):
        return {k: _thaw(v) for k, v in frozen.items()}
    if isinstance(frozen, list | tuple):
        return type(frozen)(_thaw(v) for v in frozen)
    return copy.deepcopy(frozen)


def _held_objects(session) -> dict:
    """{model: {identity: names of the loaded attributes}} of the objects the session holds
    loaded. Building for real leaves them loaded; a copy expires them, and a test that then
    detaches them (`db.session.remove()`) and reads one would fail where a build would not."""
    held: dict = {}
    for obj in list(session.identity_map.values()):
        state = sa.inspect(obj)
        if state.identity is not None and not state.expired_attributes:
            held.setdefault(type(obj), {})[state.identity] = set(state.dict) & set(state.mapper.relationships.keys())
    return held


def _load_again(held: dict) -> list:
    """Load the objects `_held_objects` named again after a copy (one query per model), and
    the relationships they had loaded; returns them, to be kept while they are needed."""
    loaded = []
    for model, identities in held.items():
        key = sa.inspect(model).primary_key
        if len(key) != 1:
            loaded += [db.session.get(model, identity) for identity in identities]
            continue
        objects = db.session.execute(
            sa.select(model).where(key[0].in_([i[0] for i in identities]))).scalars().all()
        loaded += objects
        for obj in objects:
            for name in identities.get(sa.inspect(obj).identity, ()):
                related = getattr(obj, name)
                loaded += related if isinstance(related, list) else [related]
    return loaded


class SharedApp:
    """The session's application on one database, and what each test starts from."""

    def __init__(self, database: SqliteDatabase | PostgresDatabase, instance: Path) -> None:
        self.database = database
        self.backend = database.backend
        self.url = database.url
        self.app = build_app(database.url, instance)
        self.instance = str(instance)
        migrate(self.app)
        with self.app.app_context():
            self.engine = db.engine
        database.keep_as_template(self.engine)
        self.config = copy.deepcopy(dict(self.app.config))
        self.workflows = self.app.extensions["caseflow.workflows"]
        self.extensions = ExtensionState()
        # What the database holds: the template or a snapshot (`base`), and whether anything
        # was written to it since (through this engine: fixtures run in this process).
        self.base: tuple | None = None
        self.written = False
        self.snapshots: dict[tuple, Snapshot | None] = {}
        event.listen(self.engine, "before_cursor_execute", self._note_writes)

    def _note_writes(self, _connection, _cursor, statement, *_args) -> None:
        if not self.written and statement.lstrip()[:8].upper().startswith(WRITES):
            self.written = True

    def reset_database(self) -> None:
        with self.app.app_context():
            db.session.remove()
        self.database.restore(self.engine)
        self.base, self.written = None, False

    def prepared(self, name: str, make, build):
        """`build()`'s result: built through the services the first time, on a database
        holding only what the last snapshot held; afterwards its rows are copied back (and
        its objects loaded again) instead. Built as usual when the test wrote anything first,
        or when building left files in the instance folder (keys the rows depend on)."""
        session = db.session()
        if not SNAPSHOTS or self.written or session.new or session.dirty or session.deleted:
            return build()
        # What else the rows depend on: the factory's numbers, a simulated clock, and the
        # hour (a day starts on the hour in every zone the cases live in: rows built earlier
        # in the run never fall on another day than the test's).
        key = (self.base, name, make._counter, _clock.get(), datetime.now(UTC).strftime("%Y-%m-%d %H"))
        if key not in self.snapshots:
            instance = Path(self.app.instance_path)
            files = set(instance.iterdir()) if instance.exists() else set()
            result = build()
            if instance.exists() and set(instance.iterdir()) != files:
                self.snapshots[key] = None
                return result
            rows = self.database.capture(self.engine, f"snapshot-{len(self.snapshots)}")
            self.snapshots[key] = Snapshot(rows, make._counter, _freeze(result), session.in_transaction())
            self.base, self.written = key, False
            return result
        snapshot = self.snapshots[key]
        if snapshot is None:
            return build()
        # Nothing is pending (checked above): ending the read transaction this way keeps the
        # session's objects loaded, as a service's commit does.
        session.commit()
        held = _held_objects(session)
        self.database.restore(self.engine, snapshot.rows)
        session.expire_all()
        self.base, self.written = key, False
        make._counter = snapshot.counter
        loaded = _load_rows(snapshot.result) + _load_again(held)
        result = _thaw(snapshot.result)
        del loaded
        if not snapshot.reading:
            session.commit()  # building ended with a commit: no read transaction is left open
        return result

    def as_begun(self) -> bool:
        """Whether the test left the application as `begin` gave it (settings, workflows,
        keys: what the rows a service writes depend on), and its instance folder empty (no
        key there that rows built elsewhere were not made with)."""
        app = current_app._get_current_object()
        if app is not self.app or app.extensions.get("caseflow.workflows") is not self.workflows:
            return False
        instance = Path(app.instance_path)
        if instance.exists() and any(instance.iterdir()):
            return False
        config = app.config
        if config.keys() != self.config.keys():
            return False
        for key, value in self.config.items():
            if key == "SECRET_KEY":
                continue
            if isinstance(value, str) and value.startswith(self.instance + os.sep):
                value = str(instance) + value[len(self.instance):]
            if config[key] != value:
                return False
        return True

    def begin(self, instance: Path) -> Flask:
        """The application as freshly built, with its instance folder at `instance`."""
        app = self.app
        app.config.clear()
        app.config.update(copy.deepcopy(self.config))
        # Every file the settings place in the instance folder (keys, the checkpoint log…)
        # moves with it, so nothing one test writes there is seen by the next.
        for key, value in self.config.items():
            if isinstance(value, str) and value.startswith(self.instance + os.sep):
                app.config[key] = str(instance) + value[len(self.instance):]
        app.config["SECRET_KEY"] = "test-secret-" + uuid.uuid4().hex
        app.instance_path = str(instance)
        app.extensions.pop("caseflow.field_keys", None)
        app.extensions["caseflow.workflows"] = self.workflows
        vars(app).pop("test_client_class", None)
        return app

    @contextmanager
    def serving(self, instance: Path) -> Iterator[Flask]:
        """The application for one test, inside an application context (as the tests expect)."""
        app = self.begin(instance)
        try:
            with app.app_context():
                try:
                    yield app
                finally:
                    db.session.remove()
        finally:
            self.begin(instance)
            self.extensions.restore()

    def close(self) -> None:
        with self.app.app_context():
            db.session.remove()
        self.engine.dispose()
        self.database.close()


class AppBuilder:
    """`app_with(**config)`: an application of its own for a test that needs other settings
    than the shared one (rate limiting on, CSRF on, another workflow folder, a read-only
    database URL…), on the test's clean database and instance folder. Its engines are
    closed and the module-level extensions given back after the test."""

    def __init__(self, database_url: str, instance: Path, extensions: ExtensionState) -> None:
        self.database_url = database_url
        self.instance = instance
        self.extensions = extensions
        self.built: list[Flask] = []

    def __call__(self, **config) -> Flask:
        url = config.pop("SQLALCHEMY_DATABASE_URI", self.database_url)
        app = build_app(url, self.instance, **config)
        self.built.append(app)
        return app

    def close(self) -> None:
        for app in self.built:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        self.extensions.restore()
