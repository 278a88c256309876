"""Faults: a process killed mid-operation, a read-only database, a full disk, a connection
that died in the pool. After each, nothing is half-written, the audit chain verifies, and
the user got a clear error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from caseflow import database
from caseflow.errors import StorageUnavailable
from caseflow.extensions import db
from caseflow.models import Case, SignOff
from caseflow.services import cases
from caseflow.services.audit import verify_everything
from caseflow.services.context import Actor
from tests.support.factories import a_step

WORKER = Path(__file__).with_name("crash_worker.py")


def kill_in_the_middle(app, tmp_path, operation: str, case_id: int, user_id: int) -> None:
    signal_file = tmp_path / f"{operation}.inside"
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    process = subprocess.Popen(
        [sys.executable, str(WORKER), url, str(tmp_path), str(signal_file), operation, str(case_id), str(user_id)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not signal_file.exists():
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode())
            if time.monotonic() > deadline:
                raise AssertionError("the worker never reached the middle of the operation")
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_killed_during_a_transition_leaves_nothing_half_written(app, make, team, tmp_path):
    case = make.case(team.facilitator)
    version, seq = case.version, case.audit_seq
    kill_in_the_middle(app, tmp_path, "transition", case.id, team.facilitator.id)
    case = db.session.get(Case, case.id)
    assert (case.state, case.version, case.audit_seq) == ("recorded", version, seq)
    assert verify_everything().ok
    # and the application carries on: the same move now succeeds
    cases.fire_trigger(Actor(user=team.facilitator), case.id, "start_assessment")
    assert verify_everything().ok


def test_killed_during_a_sign_off_leaves_the_request_pending(app, make, team, tmp_path):
    case = make.case(team.facilitator, to="termination_review")
    sign_off_id = case.pending_sign_off.id
    kill_in_the_middle(app, tmp_path, "sign_off", case.id, team.supervisor.id)
    assert db.session.get(Case, case.id).state == "termination_review"
    assert db.session.get(SignOff, sign_off_id).decision is None
    assert verify_everything().ok


def test_killed_during_an_import_imports_nothing(app, make, team, tmp_path):
    from sqlalchemy import func, select

    from caseflow.models import Client

    before = db.session.execute(select(func.count()).select_from(Client)).scalar_one()
    kill_in_the_middle(app, tmp_path, "import", 10, team.facilitator.id)  # 10 rows, killed after 3
    assert db.session.execute(select(func.count()).select_from(Client)).scalar_one() == before
    assert db.session.execute(select(func.count()).select_from(Case)).scalar_one() == 0
    assert verify_everything().ok


@pytest.fixture
def read_only_app(app, backend, database_url, app_with):
    if backend == "sqlite":
        url = database_url.replace("sqlite:///", "sqlite:///file:", 1) + "?mode=ro&uri=true"
        options = {}
    else:
        url = database_url
        options = {"SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": "-c default_transaction_read_only=on"}}}
    read_only = app_with(SQLALCHEMY_DATABASE_URI=url, **options)
    return read_only


def test_read_only_database_gives_a_clear_error_and_loses_nothing(app, make, team, read_only_app):
    case = make.case(team.facilitator)
    facilitator_id = team.facilitator.id
    db.session.remove()
    with read_only_app.app_context():
        from caseflow.models import User

        actor = Actor(user=db.session.get(User, facilitator_id))
        with pytest.raises(StorageUnavailable, match="read-only"):
            cases.fire_trigger(actor, case.id, "start_assessment")
        db.session.remove()
        db.engine.dispose()
    fresh = db.session.get(Case, case.id)
    assert fresh.state == "recorded" and fresh.version == 1
    assert verify_everything().ok


def test_full_disk_gives_a_clear_error_and_loses_nothing(app, backend, make, team):
    if backend != "sqlite":
        pytest.skip("a full disk is simulated with SQLite's max_page_count")
    case_id, facilitator_id = make.case(team.facilitator).id, team.facilitator.id
    db.session.remove()

    def cap_pages(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    from caseflow.models import User

    steps_before = None
    # Inside `try`: whatever fails, no later test on this worker gets a capped connection.
    try:
        db.engine.dispose()
        event.listen(db.engine, "connect", cap_pages)
        actor = Actor(user=db.session.get(User, facilitator_id))
        with pytest.raises(StorageUnavailable, match="disk is full"):
            for number in range(200):  # fill the last free pages, then hit the wall
                steps_before = number
                cases.log_step(actor, case_id, {
                    "step_type": "home_visit", "occurred_at": a_step()["occurred_at"],
                    "notes": f"Kunjungan {number} " + "x" * 4000,
                })
    finally:
        if event.contains(db.engine, "connect", cap_pages):
            event.remove(db.engine, "connect", cap_pages)
        db.session.remove()
        db.engine.dispose()
    fresh = db.session.get(Case, case_id)
    assert len(fresh.steps) == steps_before  # every confirmed step is there, the refused one is not
    assert fresh.version == 1 + steps_before
    assert verify_everything().ok


def test_a_connection_that_died_while_waiting_in_the_pool_is_replaced_before_use(app, monkeypatch):
    """A restarted server or an idle timeout kills connections the pool keeps: one that
    waited is pinged at checkout, and a dead one is never handed to a request."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's connections are files, not sockets")
    db.session.remove()
    db.engine.dispose()
    with db.engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    outside = create_engine(db.engine.url, poolclass=NullPool)
    with outside.begin() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    outside.dispose()
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has waited long enough

    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
