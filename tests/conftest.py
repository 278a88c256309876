"""Fixtures: an application per test on a fresh database (SQLite always, PostgreSQL when
CASEFLOW_TEST_POSTGRES_URL is set), users in teams, and small factories."""

from __future__ import annotations

import contextvars
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade as alembic_upgrade

from caseflow import create_app
from caseflow.extensions import db
from caseflow.services.context import Actor
from caseflow.services.reference import seed_reference_data

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("CASEFLOW_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
PASSWORD = "correct-horse-battery"


def _pg_url(database: str) -> str:
    url = sa.engine.make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database=database).render_as_string(hide_password=False)


def _build_app(database_url: str, instance: Path, **extra):
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
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(instance)
    return create_app(config)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated and seeded SQLite file, copied for each test (faster than migrating)."""
    directory = tmp_path_factory.mktemp("sqlite-template")
    path = directory / "template.sqlite3"
    app = _build_app(f"sqlite:///{path}", directory)
    with app.app_context():
        alembic_upgrade(revision="heads")
        seed_reference_data()
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A private PostgreSQL database for this test run, migrated once."""
    name = f"caseflow_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(_pg_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    instance = Path(os.environ.get("TMPDIR", "/tmp")) / name
    instance.mkdir(parents=True, exist_ok=True)
    app = _build_app(url, instance)
    with app.app_context():
        alembic_upgrade(revision="heads")
        seed_reference_data()
        db.engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
        shutil.rmtree(instance, ignore_errors=True)


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        tables = [
            row[0] for row in connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename NOT IN ('alembic_version', 'provinces', 'ppks_categories')"
            )
        ]
        if tables:
            # Audit tables refuse TRUNCATE unless in maintenance (migration 0005_trust).
            connection.exec_driver_sql("SET LOCAL caseflow.maintenance = 'on'")
            connection.exec_driver_sql(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "caseflow.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    _reset_postgres(url)
    return url


@pytest.fixture
def app(database_url, tmp_path):
    app = _build_app(database_url, tmp_path)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _push_request_context():
    """pytest-flask keeps one request context open for a whole test, which lets
    Flask-Login's cached user leak between requests; tests push their own contexts."""
    yield


# --- signed-in test clients --------------------------------------------------------


class IsolatedClient(FlaskClient):
    """Each request runs in its own application context, as in production (the `app`
    fixture keeps one context open for the whole test, which would otherwise carry
    Flask-Login's and Flask-Babel's per-request caches from one request to the next)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def login(client, username: str, password: str = PASSWORD):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.text
    return response


@pytest.fixture
def signed_in(app):
    """signed_in(user) → a fresh client signed in as `user` (browser session)."""
    def make(user):
        app.test_client_class = IsolatedClient
        client = app.test_client()
        login(client, user.username)
        return client

    return make


# --- people and records -------------------------------------------------------------


class Factory:
    def __init__(self, app):
        self.app = app
        self._counter = 0

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def user(self, role: str, *, province: str = "91", supervisor=None, scope: str | None = None,
             username: str | None = None, **extra):
        from caseflow.services.users import create_user

        number = self._next()
        return create_user(Actor.cli(), {
            "username": username or f"{role.replace('_', '')}{number}",
            "full_name": f"{role.title()} {number}",
            "role": role,
            "password": PASSWORD,
            "province_code": province,
            "supervisor_id": supervisor.id if supervisor else None,
            "auditor_scope_province_code": scope,
            **extra,
        })

    def client(self, actor_user, *, province: str = "91", **overrides):
        from caseflow.services.clients import register_client

        number = self._next()
        data = {
            "full_name": f"Klien {number}",
            "nik": f"{province}0101{15 + number % 10:02d}0885{number:04d}",
            "birth_date": f"1985-08-{15 + number % 10:02d}",
            "sex": "M",
            "address": "Jl. Contoh",
            "province_code": province,
            "consent_given_by": "klien",
            "consent_confirmed": True,
        }
        data.update(overrides)
        return register_client(Actor(user=actor_user), data)

    def case(self, facilitator, *, to: str = "recorded", supervisor=None, category: str = "P02"):
        """A case walked through the services up to state `to`."""
        from caseflow.services import cases

        me = Actor(user=facilitator)
        client = self.client(facilitator, province=facilitator.province_code)
        case = cases.open_case(me, {"client_id": client.id, "ppks_category_code": category})
        path = ["recorded", "assessment", "planning", "intervention", "evaluation",
                "termination_review", "resolved"]
        target = path.index(to if to in path else "termination_review")
        if target >= 1:
            cases.fire_trigger(me, case.id, "start_assessment")
        if target >= 2:
            cases.save_assessment(me, case.id, COMPLETE_ASSESSMENT)
            cases.fire_trigger(me, case.id, "complete_assessment")
        if target >= 3:
            cases.save_plan(me, case.id, complete_plan())
            cases.fire_trigger(me, case.id, "start_intervention")
        if target >= 4:
            cases.log_step(me, case.id, a_step())
            cases.fire_trigger(me, case.id, "start_evaluation")
        if target >= 5:
            cases.save_evaluation(me, case.id, rate_all(case, "achieved"))
            outcome = "closed_unresolved" if to == "closed_unresolved" else "resolved"
            cases.save_termination_request(me, case.id, {
                "outcome": outcome, "aftercare_plan": "Kunjungan bulanan",
                "closure_reason": "moved" if outcome == "closed_unresolved" else None,
            })
            cases.fire_trigger(me, case.id, "request_termination")
        if to in ("resolved", "closed_unresolved"):
            db.session.refresh(case)
            cases.decide_sign_off(Actor(user=supervisor), case.pending_sign_off.id, {"decision": "approve"})
        db.session.refresh(case)
        return case


COMPLETE_ASSESSMENT = {
    "problem": "Anak tidak bersekolah", "needs": "Pendidikan", "strengths": "Keluarga peduli",
    "resources": "Sekolah", "risk_level": "medium",
}


def complete_plan() -> dict:
    return {"summary": "Rencana", "goals": [
        {"description": "Kembali sekolah", "target_date": date(2027, 1, 31).isoformat(),
         "responsible_party": "Pendamping"},
    ]}


def a_step(**overrides) -> dict:
    from caseflow.database import utcnow

    # A naive time is read in the facilitator's zone (UTC+7…+9): two hours ago UTC is
    # always in the past there, also under a simulated clock.
    earlier = (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    data = {"step_type": "home_visit", "occurred_at": earlier, "notes": "Kunjungan rumah"}
    data.update(overrides)
    return data


def today_for(user) -> date:
    """Today on `user`'s own calendar: dates about a person (a facilitator's evidence
    period, a delegation) are read in their zone, which is ahead of UTC from 15:00 UTC
    (WIT) and the UTC date is then their yesterday."""
    from zoneinfo import ZoneInfo

    from caseflow.database import utcnow

    return utcnow().astimezone(ZoneInfo(user.timezone)).date()


def rate_all(case, rating: str) -> dict:
    db.session.refresh(case)
    return {"ratings": [{"goal_id": g.id, "rating": rating} for g in case.plan.goals if not g.archived]}


@pytest.fixture
def make(app) -> Factory:
    return Factory(app)


@pytest.fixture
def team(make):
    """Two teams in two provinces in different zones, and the other roles."""
    class Team:
        pass

    t = Team()
    t.supervisor = make.user("supervisor", province="91", username="sup")
    t.facilitator = make.user("facilitator", province="91", supervisor=t.supervisor, username="fac")
    t.facilitator2 = make.user("facilitator", province="91", supervisor=t.supervisor, username="fac2")
    t.other_supervisor = make.user("supervisor", province="53", username="sup.ntt")
    t.other_facilitator = make.user("facilitator", province="53", supervisor=t.other_supervisor,
                                    username="fac.ntt")
    t.auditor = make.user("auditor", province="31", username="aud")
    t.province_auditor = make.user("auditor", province="53", scope="53", username="aud.ntt")
    t.manager = make.user("programme_manager", province="31", username="manager")
    t.admin = make.user("admin", province="31", username="adm")
    return t
