"""Fixtures: one application per database for the session (SQLite always, PostgreSQL when
CASEFLOW_TEST_POSTGRES_URL is set), a clean database and application state for each test
(tests/support/apps.py), users in teams, and small factories. Helpers live in tests/support."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apps import (
    BACKENDS,
    AppBuilder,
    PostgresDatabase,
    SharedApp,
    SqliteDatabase,
    memory_directory,
)
from tests.support.clients import IsolatedClient, isolated_client, login
from tests.support.factories import Factory, Team

# Long tests first. Under xdist (`make test`) each test is handed to the next free worker, a
# few at a time, in this order (see `pytest_xdist_make_scheduler`): a long test handed out
# last would keep one worker busy while the other has nothing left to do.
LONG_FIRST = (
    "tests/deploy/",
    "tests/web/test_hostile_requests.py::test_no_get_route_answers",
    "tests/browser/test_presentation.py",
    "tests/browser/",
    "tests/web/test_hostile_requests.py::test_generated_query_strings",
    "tests/api/test_openapi_schemathesis.py",
    "tests/faults/",
    "tests/reports/test_rollup.py",
)
# Modules whose tests share one costly module fixture (an installed wheel, a deployed stack):
# all their tests go to one worker, so it is built once.
TOGETHER = ("tests/deploy/",)


def pytest_collection_modifyitems(items) -> None:
    def rank(item) -> int:
        return next((i for i, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)), len(LONG_FIRST))

    items.sort(key=rank)  # stable: each group keeps its order (tests of a module stay together)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when run with -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    """xdist's 'loadgroup' without its xdist_group mark (which pytest 9.2 no longer honours:
    pytest-xdist#1386): every test is a unit of its own, but a TOGETHER module is one unit.
    Units go out largest first, then in collection order, one more whenever a worker has no
    more than two tests waiting."""
    from xdist.scheduler import LoadScopeScheduling

    class OneByOne(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("::", 1)[0] if nodeid.startswith(TOGETHER) else nodeid

    return OneByOne(config, log)


@pytest.fixture(scope="session")
def shared_sqlite() -> Iterator[SharedApp]:
    """The session's application on SQLite (a file in memory, copied back before each test)."""
    directory = memory_directory("caseflow-test-")
    shared = SharedApp(SqliteDatabase(directory), directory)
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def shared_postgres() -> Iterator[SharedApp]:
    """The session's application on a private PostgreSQL database, migrated once."""
    directory = memory_directory("caseflow-test-pg-")
    database = PostgresDatabase()
    try:
        shared = SharedApp(database, directory)
    except BaseException:
        database.close()
        raise
    yield shared
    shared.close()


@pytest.fixture
def shared(backend, request) -> SharedApp:
    """The session's application of the test's backend (its database not yet reset)."""
    return request.getfixturevalue(f"shared_{backend}")


@pytest.fixture(scope="session")
def sqlite_template(shared_sqlite) -> Path:
    """A migrated SQLite file with the reference data (copy it; do not write to it)."""
    return shared_sqlite.database.template


@pytest.fixture(scope="session")
def postgres_database(shared_postgres) -> str:
    """The URL of this run's PostgreSQL database."""
    return shared_postgres.url


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(shared) -> str:
    """The test's database, emptied of everything but the reference data."""
    shared.reset_database()
    return shared.url


@pytest.fixture
def app(shared, database_url, tmp_path, monkeypatch):
    """The shared application of `backend`, as freshly built, with its instance folder in
    `tmp_path`, inside an application context for the whole test."""
    monkeypatch.setenv("CASEFLOW_INSTANCE_PATH", str(tmp_path))
    with shared.serving(tmp_path) as app:
        yield app


@pytest.fixture
def app_with(shared, database_url, tmp_path) -> Iterator[AppBuilder]:
    """app_with(**config) → an application of its own, built with `config` on top of the
    test settings, on the test's database and instance folder (`tmp_path`)."""
    builder = AppBuilder(database_url, tmp_path, shared.extensions)
    yield builder
    builder.close()


@pytest.fixture(autouse=True)
def _push_request_context():
    """pytest-flask keeps one request context open for a whole test, which lets
    Flask-Login's cached user leak between requests; tests push their own contexts."""
    yield


# --- test clients ---------------------------------------------------------------------


@pytest.fixture
def client(app) -> IsolatedClient:
    """A client of `app` whose every request runs in its own application context."""
    return isolated_client(app)


@pytest.fixture
def signed_in(app):
    """signed_in(user) → a fresh client signed in as `user` (browser session)."""
    def make(user):
        client = isolated_client(app)
        login(client, user.username)
        return client

    return make


# --- people and records ------------------------------------------------------------------


@pytest.fixture
def make(app, shared, request) -> Factory:
    """The factory. The cases it makes are kept like `prepared`'s records (a case walked to
    its state costs a dozen service calls): the first test builds one, later tests that
    ask for the same case on the same rows get them copied back, unless the test changed
    what building depends on (patched something, or changed the application)."""
    def remember(name, build):
        if untouched(request) and shared.as_begun():
            return shared.prepared(name, factory, build)
        return build()

    factory = Factory(app, remember)
    return factory


def untouched(request) -> bool:
    """Nothing patched but what the fixtures patch for every test (the instance folder, and
    pytest-flask's response class), and no second application on the test's database (its
    writes go past the shared engine)."""
    if "app_with" in request.fixturenames:
        return False
    if "monkeypatch" not in request.fixturenames:
        return True
    patch, app = request.getfixturevalue("monkeypatch"), request.getfixturevalue("app")
    return all(target is app and name == "response_class" for target, name, _ in patch._setattr) and all(
        mapping is os.environ and name == "CASEFLOW_INSTANCE_PATH" for mapping, name, _ in patch._setitem)


@pytest.fixture
def prepared(shared, make):
    """prepared(name, build) → what `build()` returns: the records it makes through the
    services. The first test builds them; later tests (on a database that holds nothing
    else yet) get the same rows copied back, and `make` counts on from where it stood."""
    return lambda name, build: shared.prepared(name, make, build)


@pytest.fixture
def team(make, prepared) -> Team:
    """Two teams in two provinces in different zones, and the other roles."""
    return prepared("team", lambda: Team(make))
