"""Password policy, password change ending every session, and sign-in throttling."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from caseflow.errors import ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent
from caseflow.security import throttle
from caseflow.security.passwords import common_passwords, is_common, password_problems
from caseflow.services.context import Actor
from caseflow.services.users import change_password, password_matches
from tests.support.clients import isolated_client
from tests.support.factories import PASSWORD

NEW_PASSWORD = "tenang-sungai-kapuas-88"


def test_common_list_ships_with_the_app_and_is_real():
    common = common_passwords()
    assert len(common) > 10_000
    assert {"123456", "password", "qwerty", "bismillah", "indonesia"} <= common


@pytest.mark.parametrize("password", [
    "password", "short1!", "qwertyuiop123", "Bismillah123!", "indonesia2026!", "aaaaaaaaaaaaaaaa",
    "!!Password123!!",
])
def test_weak_passwords_are_refused(password):
    assert password_problems(password)


def test_a_password_containing_the_username_is_refused():
    assert password_problems("budi.santoso-2026-xyz", username="budi.santoso")


@pytest.mark.parametrize("password", [PASSWORD, "Demo-Caseflow-2026", NEW_PASSWORD])
def test_good_passwords_pass(password):
    assert password_problems(password) == []
    assert not is_common(password)


def test_creating_an_account_with_a_common_password_is_refused(make):
    with pytest.raises(ValidationError) as error:
        make.user("facilitator", username="lemah", password="iloveyou1234")
    assert "password" in error.value.fields


def test_change_password_ends_every_session_and_is_audited(team):
    before = team.facilitator.session_generation
    user = change_password(Actor(user=team.facilitator),
                           {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert user.session_generation == before + 1
    assert password_matches(user, NEW_PASSWORD) and not password_matches(user, PASSWORD)
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)).scalars().all()
    assert "user.password_changed" in actions
    assert NEW_PASSWORD not in str(db.session.execute(select(AuditEvent.context)).scalars().all())


def test_change_password_needs_the_current_one_and_records_the_refusal(team):
    with pytest.raises(ValidationError) as error:
        change_password(Actor(user=team.facilitator),
                        {"current_password": "wrong-password-123", "new_password": NEW_PASSWORD})
    assert "current_password" in error.value.fields
    db.session.rollback()
    assert db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "user.password_change_refused")).scalar_one().actor_id == team.facilitator.id


def test_change_password_refuses_a_weak_new_one(team):
    with pytest.raises(ValidationError) as error:
        change_password(Actor(user=team.facilitator), {"current_password": PASSWORD, "new_password": "password1234"})
    assert "new_password" in error.value.fields


def test_change_password_signs_out_other_sessions(app, team):
    other = isolated_client(app)
    assert other.post("/login", data={"username": "fac", "password": PASSWORD}).status_code == 302
    assert "/login" not in other.get("/").headers.get("Location", "")
    change_password(Actor(user=team.facilitator), {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert "/login" in other.get("/").headers["Location"]  # back to sign-in


# --- throttling ---------------------------------------------------------------------


def _redis_available() -> bool:
    try:
        from limits.storage import storage_from_string

        return storage_from_string("redis://127.0.0.1:6379").check()
    except Exception:  # noqa: BLE001 - no server, no driver: the Redis variant is skipped
        return False


def _throttled(app_with, storage: str, **extra):
    return app_with(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage,
                    RATELIMIT_KEY_PREFIX=f"caseflow-test-{uuid.uuid4().hex}",
                    CASEFLOW_LOGIN_LIMIT_ACCOUNT="3 per 15 minutes",
                    CASEFLOW_LOGIN_LIMIT_ADDRESS="5 per 15 minutes", **extra)


@pytest.fixture(params=["memory://", "redis://127.0.0.1:6379"])
def throttled_app(request, app_with):
    """Counters in process memory (one worker) and in Redis (several workers share them)."""
    if request.param.startswith("redis") and not _redis_available():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    app = _throttled(app_with, request.param)
    with app.app_context():
        throttle.reset()
        yield app
        throttle.reset()
        db.session.remove()


@pytest.fixture
def pauses(monkeypatch):
    """The waits the throttle asked for, instead of waiting."""
    asked: list[float] = []
    monkeypatch.setattr(throttle, "pause", asked.append)
    return asked


def _client(app, address="10.0.0.1"):
    client = isolated_client(app)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_account_is_locked_after_repeated_failures_with_a_clear_message(throttled_app, make):
    make.user("facilitator", username="budi")
    client = _client(throttled_app)
    for _ in range(3):
        assert client.post("/login", data={"username": "budi", "password": "salah-salah-123"}).status_code == 401
    locked = client.post("/login", data={"username": "budi", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Wait" in locked.text or "Tunggu" in locked.text
    # Another address is refused too: the account itself is locked.
    assert _client(throttled_app, "10.0.0.2").post(
        "/login", data={"username": "BUDI ", "password": PASSWORD}).status_code == 429
    failed = db.session.execute(select(AuditEvent).where(AuditEvent.action == "login.failed")).scalars().all()
    assert len(failed) == 3


def test_successful_sign_ins_do_not_count(throttled_app, make):
    make.user("facilitator", username="sari")
    for _ in range(6):
        client = _client(throttled_app)
        assert client.post("/login", data={"username": "sari", "password": PASSWORD}).status_code == 302
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "login.succeeded")).scalars().all()


def test_a_failing_address_is_slowed_but_never_locks_out_a_correct_password(throttled_app, make, pauses):
    """One office behind one NAT: someone guessing from it must not lock its staff out."""
    make.user("facilitator", username="sari")
    office = _client(throttled_app, "10.0.0.9")
    for number in range(5):
        assert office.post("/login", data={"username": f"tebak{number}", "password": "x" * 12}).status_code == 401
    assert pauses == []
    assert office.post("/login", data={"username": "lain", "password": "x" * 12}).status_code == 401
    assert pauses == [2.0]
    colleague = _client(throttled_app, "10.0.0.9")
    assert colleague.post("/login", data={"username": "sari", "password": PASSWORD}).status_code == 302
    assert pauses == [2.0, 2.0]  # a short wait, then signed in
    assert _client(throttled_app, "10.0.0.10").post(
        "/login", data={"username": "lain", "password": "x" * 12}).status_code == 401
    assert len(pauses) == 2  # another address is not slowed


def test_concurrent_guesses_do_not_slip_past_the_account_limit(throttled_app, make):
    """Twelve wrong passwords sent at once against a limit of three: exactly three are
    checked (before, every guess that arrived before the first failure was counted went
    through)."""
    make.user("facilitator", username="budi")
    start = threading.Barrier(12)
    statuses: list[int] = []

    def guess(number: int) -> None:
        client = _client(throttled_app, f"10.0.1.{number}")
        start.wait()
        statuses.append(client.post("/login", data={"username": "budi", "password": f"salah-{number}-xyz"}).status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 3 + [429] * 9


def test_with_the_shared_storage_unreachable_sign_in_works_and_health_says_so(app_with, make):
    """Redis down: sign-in uses the worker's own counters (still throttled), never a 500,
    and /healthz names the failing dependency."""
    app = _throttled(app_with, "redis://127.0.0.1:1")  # nothing listens there
    with app.app_context():
        make.user("facilitator", username="budi")
        client = _client(app)
        assert client.post("/login", data={"username": "budi", "password": PASSWORD}).status_code == 302
        for _ in range(3):
            assert _client(app).post("/login", data={"username": "budi", "password": "salah-salah-1"}).status_code == 401
        assert _client(app).post("/login", data={"username": "budi", "password": PASSWORD}).status_code == 429
        health = _client(app).get("/healthz")
        assert health.status_code == 200
        assert health.json == {"status": "degraded", "checks": {"database": "ok", "ratelimit_storage": "unreachable"}}
        db.session.remove()
        db.engine.dispose()


def test_health_reports_each_dependency(client, monkeypatch):
    assert client.get("/healthz").json == {"status": "ok", "checks": {"database": "ok", "ratelimit_storage": "ok"}}

    def unreachable(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", unreachable)
    down = client.get("/healthz")
    assert down.status_code == 503
    assert down.json == {"status": "failing", "checks": {"database": "unreachable", "ratelimit_storage": "ok"}}


# --- the client's address behind a proxy ---------------------------------------------------


@pytest.mark.parametrize("proxies, seen", [(0, "10.0.0.1"), (1, "203.0.113.7")])
def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(app_with, make, pauses, proxies, seen):
    """Without CASEFLOW_TRUSTED_PROXIES anyone could write X-Forwarded-For: to escape the
    per-address slowdown, or to put someone else's address in the audit trail."""
    app = _throttled(app_with, "memory://", CASEFLOW_TRUSTED_PROXIES=proxies)
    with app.app_context():
        throttle.reset()
        make.user("facilitator", username="budi")
        for number in range(6):  # each guess claims another address
            _client(app).post("/login", data={"username": f"tebak{number}", "password": "x" * 12},
                              headers={"X-Forwarded-For": f"203.0.113.{number + 2}"})
        assert len(pauses) == (1 if proxies == 0 else 0)
        _client(app).post("/login", data={"username": "budi", "password": PASSWORD},
                          headers={"X-Forwarded-For": "203.0.113.7"})
        event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "login.succeeded")).scalar_one()
        assert event.origin_ip == seen
        db.session.remove()
        db.engine.dispose()
