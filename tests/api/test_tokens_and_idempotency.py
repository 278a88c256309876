"""Personal access tokens (scopes, expiry, revocation, audit, hashed at rest), CSRF for the
browser session, and exactly-once writes with Idempotency-Key — also under a real race."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text, update

from caseflow.database import utcnow
from caseflow.extensions import db
from caseflow.models import ApiToken, IdempotencyRecord, Step
from caseflow.services import cases as case_services
from tests.support.clients import IsolatedClient, assert_problem
from tests.support.factories import a_step, rate_all
from tests.support.queries import count, events, fresh, statements

# --- tokens ---------------------------------------------------------------------------


def test_owner_creates_a_token_shown_once_and_stored_hashed(api_as, team):
    api = api_as(team.facilitator)
    response = api.post("/api/v1/tokens", json={"name": "SIKS-NG", "scopes": ["cases:read"],
                                                "expires_in_days": 30})
    assert response.status_code == 201, response.json
    secret = response.json["secret"]
    assert secret.startswith("cf_") and response.json["scopes"] == ["cases:read"]
    stored = db.session.execute(select(ApiToken)).scalar_one()
    assert stored.token_hash != secret and secret not in (stored.prefix, stored.token_hash)
    listed = api.get("/api/v1/tokens").json["items"]
    assert [t["name"] for t in listed] == ["SIKS-NG"] and "secret" not in listed[0]
    assert events("token.created", actor_id=team.facilitator.id)


def test_scopes_beyond_the_role_are_refused(api_as, team):
    response = api_as(team.facilitator).post("/api/v1/tokens", json={"name": "x", "scopes": ["audit:read"]})
    assert_problem(response, 422, "scopes")
    response = api_as(team.admin).post("/api/v1/tokens", json={"name": "x", "scopes": ["cases:read"]})
    assert_problem(response, 403)


def test_a_token_reads_within_its_scope_and_every_use_is_audited(bearer, make, team):
    case = make.case(team.facilitator)
    client, headers, token = bearer(team.facilitator, scopes=("cases:read",))
    response = client.get("/api/v1/cases", headers=headers)
    assert response.status_code == 200 and [c["id"] for c in response.json["items"]] == [case.id]
    refused = client.post(f"/api/v1/cases/{case.id}/transitions/start_assessment", json={}, headers=headers)
    body = assert_problem(refused, 403)
    assert body["type"] == "urn:caseflow:problem:insufficient-scope"
    used = events("token.used", actor_id=team.facilitator.id)
    assert len(used) == 2 and used[0].context["token_id"] == token.id
    assert used[0].chain == f"user:{team.facilitator.id}" and used[0].context["via"] == "api"


def test_a_token_with_write_scope_writes_without_csrf(app, bearer, make, team):
    app.config["WTF_CSRF_ENABLED"] = True
    case = make.case(team.facilitator)
    client, headers, _ = bearer(team.facilitator, scopes=("cases:read", "cases:write"))
    response = client.post(f"/api/v1/cases/{case.id}/transitions/start_assessment", json={}, headers=headers)
    assert response.status_code == 200, response.json


def test_session_writes_need_the_csrf_header(app, make, team):
    app.config["WTF_CSRF_ENABLED"] = True
    case = make.case(team.facilitator)
    app.test_client_class = IsolatedClient
    client = app.test_client()
    page = client.get("/login")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    client.post("/login", data={"username": team.facilitator.username, "password": "correct-horse-battery",
                                "csrf_token": token})
    # A new session at sign-in: the page's token is the one to send.
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/cases").get_data(as_text=True)).group(1)
    url = f"/api/v1/cases/{case.id}/transitions/start_assessment"
    assert_problem(client.post(url, json={}), 400, "X-CSRFToken")
    assert client.post(url, json={}, headers={"X-CSRFToken": token}).status_code == 200


def test_an_expired_token_is_refused(bearer, team):
    client, headers, token = bearer(team.facilitator, days=1)
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    db.session.execute(update(ApiToken).where(ApiToken.id == token.id)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    body = assert_problem(client.get("/api/v1/cases", headers=headers), 401)
    assert body["type"] == "urn:caseflow:problem:invalid-token"


def test_a_revoked_token_stops_at_once_and_only_its_owner_revokes(api_as, bearer, team):
    client, headers, token = bearer(team.facilitator)
    assert_problem(api_as(team.facilitator2).delete(f"/api/v1/tokens/{token.id}"), 404)
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    revoked = api_as(team.facilitator).delete(f"/api/v1/tokens/{token.id}")
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert_problem(client.get("/api/v1/cases", headers=headers), 401)
    assert events("token.revoked", actor_id=team.facilitator.id)


def test_a_token_of_a_deactivated_account_is_refused(bearer, team):
    from caseflow.services.context import Actor
    from caseflow.services.users import set_active

    client, headers, _ = bearer(team.facilitator)
    set_active(Actor(user=team.admin), team.facilitator.id, False)
    assert_problem(client.get("/api/v1/cases", headers=headers), 401)


def test_a_token_ends_when_its_owner_changes_password(api_as, bearer, team):
    from tests.support.factories import PASSWORD

    client, headers, token = bearer(team.facilitator)
    _, other_headers, _ = bearer(team.facilitator2)
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    browser = api_as(team.facilitator)
    page = browser.get("/account/password").get_data(as_text=True)
    assert "data-tokens-to-revoke" in page and token.prefix in page  # said before it happens
    changed = browser.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "kopi-pahit-di-wamena-2026"})
    assert changed.status_code == 303
    body = assert_problem(client.get("/api/v1/cases", headers=headers), 401)
    assert body["type"] == "urn:caseflow:problem:invalid-token"
    assert client.get("/api/v1/cases", headers=other_headers).status_code == 200  # someone else's
    [revoked] = events("token.revoked", actor_id=team.facilitator.id)
    assert revoked.context["reason"] == "password changed"
    [change] = events("user.password_changed")
    assert change.context["tokens_revoked"] == 1
    assert "data-tokens-to-revoke" not in browser.get("/account/password").get_data(as_text=True)


def test_reactivating_an_account_does_not_bring_its_tokens_back(bearer, team):
    from caseflow.services.context import Actor
    from caseflow.services.users import set_active

    client, headers, _ = bearer(team.facilitator)
    set_active(Actor(user=team.admin), team.facilitator.id, False)
    set_active(Actor(user=team.admin), team.facilitator.id, True)
    assert_problem(client.get("/api/v1/cases", headers=headers), 401)
    assert events("token.revoked")[0].context["reason"] == "account deactivated"


def test_tokens_cannot_manage_tokens_and_garbage_is_refused(app, bearer, team):
    client, headers, _ = bearer(team.facilitator, scopes=("cases:read", "cases:write"))
    assert_problem(client.get("/api/v1/tokens", headers=headers), 403)
    assert_problem(client.get("/api/v1/cases", headers={"Authorization": "Bearer cf_nonsense"}), 401)
    assert_problem(client.get("/api/v1/cases", headers={"Authorization": "Basic abc"}), 401)


def test_audit_events_need_the_audit_scope(bearer, make, team):
    case = make.case(team.facilitator)
    client, headers, _ = bearer(team.auditor, scopes=("cases:read",))
    assert_problem(client.get(f"/api/v1/cases/{case.id}/audit-events", headers=headers), 403)
    client, headers, _ = bearer(team.auditor, scopes=("audit:read",))
    assert client.get(f"/api/v1/cases/{case.id}/audit-events", headers=headers).status_code == 200


# --- idempotency ------------------------------------------------------------------------


def test_a_retry_returns_the_first_result_and_changes_nothing(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    headers = {"Idempotency-Key": "step-1", "If-Match": f'"{case.version}"'}
    step = a_step()
    first = api.post(f"/api/v1/cases/{case.id}/steps", json=step, headers=headers)
    again = api.post(f"/api/v1/cases/{case.id}/steps", json=step, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json and again.headers["Idempotent-Replayed"] == "true"
    assert first.headers["ETag"] == again.headers["ETag"] == f'"{case.version + 1}"'
    assert count(Step, Step.case_id == case.id) == 1
    assert len(events("step.logged", case_id=case.id)) == 1


def test_the_same_key_with_another_body_is_refused_and_not_applied(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    headers = {"Idempotency-Key": "k-2"}
    assert api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(notes="satu"), headers=headers).status_code == 201
    response = api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(notes="dua"), headers=headers)
    assert_problem(response, 422, "Idempotency-Key")
    assert count(Step, Step.case_id == case.id) == 1


def test_a_failed_write_keeps_no_key_so_a_corrected_retry_applies(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    headers = {"Idempotency-Key": "k-3", "If-Match": '"1"'}
    assert_problem(api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(), headers=headers), 409)
    assert count(IdempotencyRecord) == 0
    headers["If-Match"] = f'"{case.version}"'
    assert api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(), headers=headers).status_code == 201


def test_keys_belong_to_their_user(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/steps", json=a_step(),
                                  headers={"Idempotency-Key": "shared"})
    other = make.case(team.facilitator2, to="assessment")
    response = api_as(team.facilitator2).post(f"/api/v1/cases/{other.id}/steps", json=a_step(),
                                              headers={"Idempotency-Key": "shared"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


def test_an_overlong_key_is_named(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    response = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/steps", json=a_step(),
                                             headers={"Idempotency-Key": "k" * 256})
    assert_problem(response, 422, "Idempotency-Key")


@pytest.mark.parametrize("with_version", [False, True, "outbox"])
def test_a_retry_racing_the_first_request_applies_once(app, api_as, make, team, monkeypatch, with_version):
    """Two connections send the same keyed write at once: the second waits for the first's
    transaction and answers with its stored result; one step exists."""
    case = make.case(team.facilitator, to="assessment")
    original = case_services.log_step
    entered = threading.Event()

    def slow_log_step(*args, **kwargs):
        step = original(*args, **kwargs)
        entered.set()
        threading.Event().wait(0.4)  # hold the transaction open while the retry arrives
        return step

    monkeypatch.setattr(case_services, "log_step", slow_log_step)
    clients = [api_as(team.facilitator), api_as(team.facilitator)]
    headers = {"Idempotency-Key": "race-1"}
    if with_version is True:
        headers["If-Match"] = f'"{case.version}"'
    body = a_step(notes="Sekali saja")
    results: list = [None, None]

    def send(index: int) -> None:
        with app.app_context():
            if with_version == "outbox":  # the same entry in two batches at once
                results[index] = clients[index].post("/api/v1/outbox", json={"entries": [
                    {"key": "race-1", "kind": "step", "case_id": case.id, "body": body}]})
            else:
                results[index] = clients[index].post(f"/api/v1/cases/{case.id}/steps", json=body,
                                                     headers=headers)

    first = threading.Thread(target=send, args=(0,))
    second = threading.Thread(target=send, args=(1,))
    first.start()
    assert entered.wait(10)
    second.start()
    first.join(20)
    second.join(20)
    if with_version == "outbox":
        answers = [r.json["results"][0] for r in results]
        assert [a["status"] for a in answers] == [201, 201], answers
        assert answers[0]["body"] == answers[1]["body"] and answers[1]["replayed"] is True
    else:
        assert [r.status_code for r in results] == [201, 201], [r.get_data(as_text=True) for r in results]
        assert results[0].json == results[1].json
        assert results[1].headers.get("Idempotent-Replayed") == "true"
    assert count(Step, Step.case_id == case.id) == 1


def test_a_keyed_step_reserves_its_key_with_its_case_lock_on_postgresql(api_as, make, team, backend):
    """PostgreSQL: the key's reservation and the case's lock are one statement (one round
    trip fewer); SQLite (its write transaction holds the database's lock) sends them apart.
    The answer is the same either way, and a retry is answered from the stored result."""
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    headers = {"Idempotency-Key": "one-trip", "If-Match": f'"{case.version}"'}
    with statements() as sent:
        response = api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(notes="Satu kali"), headers=headers)
    assert response.status_code == 201, response.json
    reserving = [sql for sql in sent if "INSERT INTO idempotency_records" in sql]
    locking = [sql for sql in sent if "FOR UPDATE" in sql]
    assert len(reserving) == 1
    if backend == "postgres":
        assert locking == reserving
    else:
        assert not locking and "FOR UPDATE" not in reserving[0]
    with statements() as sent:
        again = api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(notes="Satu kali"), headers=headers)
    assert again.status_code == 201 and again.json == response.json
    assert again.headers["Idempotent-Replayed"] == "true" and again.headers["ETag"] == response.headers["ETag"]
    assert count(Step, Step.case_id == case.id) == 1


def test_a_keyed_move_reserves_its_key_with_its_case_lock_on_postgresql(api_as, make, team, backend):
    """The same for a move: one statement on PostgreSQL, the same answers; a move refused
    (another team's case) keeps nothing under its key and moves nothing."""
    case = make.case(team.facilitator)
    api = api_as(team.facilitator)
    address = f"/api/v1/cases/{case.id}/transitions/start_assessment"
    headers = {"Idempotency-Key": "one-move", "If-Match": f'"{case.version}"'}
    with statements() as sent:
        response = api.post(address, json={}, headers=headers)
    assert response.status_code == 200, response.json
    reserving = [sql for sql in sent if "INSERT INTO idempotency_records" in sql]
    locking = [sql for sql in sent if "FOR UPDATE" in sql]
    assert len(reserving) == 1
    assert locking == (reserving if backend == "postgres" else [])
    again = api.post(address, json={}, headers=headers)
    assert again.status_code == 200 and again.json == response.json and again.headers["Idempotent-Replayed"] == "true"
    assert fresh(case).state == response.json["state"] == "assessment"
    theirs = make.case(team.other_facilitator)
    refused = api.post(f"/api/v1/cases/{theirs.id}/transitions/start_assessment", json={},
                       headers={"Idempotency-Key": "their-move"})
    assert refused.status_code == 404, refused.json
    assert count(IdempotencyRecord, IdempotencyRecord.key == "their-move") == 0
    assert fresh(theirs).state == "recorded"


@pytest.mark.parametrize("whose", ["none", "another team's", "changed since"])
def test_a_keyed_step_refused_stores_nothing_under_its_key(api_as, make, team, whose):
    """A refusal after the key was reserved with the case's lock rolls both back: the key is
    free for a retry, which runs afresh (and is refused again, or applied once allowed)."""
    if whose == "none":
        case_id = 999_999
    elif whose == "another team's":
        case_id = make.case(team.other_facilitator, to="assessment").id
    else:
        case_id = make.case(team.facilitator, to="assessment").id
    api = api_as(team.facilitator)
    headers = {"Idempotency-Key": f"refused-{whose}"}
    if whose == "changed since":
        headers["If-Match"] = f'"{fresh(case_id).version - 1}"'
    first = api.post(f"/api/v1/cases/{case_id}/steps", json=a_step(), headers=headers)
    assert first.status_code in (404, 409, 412), first.json
    again = api.post(f"/api/v1/cases/{case_id}/steps", json=a_step(), headers=headers)
    assert again.status_code == first.status_code and "Idempotent-Replayed" not in again.headers
    assert count(IdempotencyRecord, IdempotencyRecord.key == f"refused-{whose}") == 0
    assert count(Step, Step.case_id == case_id) == 0


def test_a_keyed_step_waits_for_its_key_before_it_locks_its_case(app, api_as, make, team, backend):
    """While another transaction holds the key (a tablet's outbox that reserved it and has
    yet to lock the case), the step waits on the key without holding the case's lock: the
    outbox can lock the case and finish, and the step is then answered with its result."""
    if backend != "postgres":
        pytest.skip("SQLite's write transaction takes the database's lock before either")
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    answer: list = []
    holder = db.engine.connect()
    try:
        transaction = holder.begin()
        holder.execute(insert(IdempotencyRecord).values(
            user_id=team.facilitator.id, key="held-key", fingerprint="0" * 64, method="POST",
            path=f"/api/v1/cases/{case.id}/steps", created_at=utcnow()))

        def send() -> None:
            with app.app_context():
                answer.append(api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(),
                                       headers={"Idempotency-Key": "held-key"}))

        sender = threading.Thread(target=send)
        sender.start()
        waiting = False
        for _ in range(100):  # until the step's transaction waits on the key
            threading.Event().wait(0.05)
            waiting = holder.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%reserved_key%'")).scalar_one() > 0
            if waiting:
                break
        assert waiting
        # The case is not locked by the waiting step: this would wait (and fail) otherwise.
        holder.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert holder.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"),
                              {"id": case.id}).scalar_one() == case.id
        transaction.rollback()  # as a refused outbox would: the key is free again
        sender.join(20)
    finally:
        holder.close()
    assert answer and answer[0].status_code == 201, answer and answer[0].json
    assert count(Step, Step.case_id == case.id) == 1


# --- the outbox in one request -------------------------------------------------------


def _entry(key, case, **extra):
    return {"key": key, "kind": "step", "case_id": case.id, "body": a_step(notes=key)} | extra


def test_an_outbox_batch_applies_in_order_each_once(api_as, make, team):
    first = make.case(team.facilitator, to="assessment")
    second = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    entries = [
        _entry("a1", first, if_match=first.version, device_time="2026-11-20T08:00:00+09:00"),
        _entry("b1", second, if_match=second.version),
        _entry("a2", first, if_match=first.version + 1),
        {"key": "a3", "kind": "assessment", "case_id": first.id, "if_match": first.version + 2,
         "body": {"problem": "Dari tablet"}},
    ]
    response = api.post("/api/v1/outbox", json={"entries": entries})
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [r["status"] for r in results] == [201, 201, 201, 200]
    assert results[3]["etag"] == f'"{first.version + 3}"' and results[3]["body"]["version"] == first.version + 3
    assert count(Step, Step.case_id == first.id) == 2
    event = events("step.logged", case_id=first.id)[-2]
    assert event.context["device_time"].startswith("2026-11-19T23:00:00")
    again = api.post("/api/v1/outbox", json={"entries": entries}).json["results"]
    assert all(r["replayed"] for r in again) and [r["body"] for r in again] == [r["body"] for r in results]
    # A single retry of a batched entry is recognised too.
    single = api.post(f"/api/v1/cases/{first.id}/steps", json=entries[0]["body"],
                      headers={"Idempotency-Key": "a1", "If-Match": f'"{first.version}"'})
    assert single.status_code == 201 and single.headers["Idempotent-Replayed"] == "true"
    assert count(Step, Step.case_id == first.id) == 2


def test_a_refused_entry_holds_back_its_case_only(api_as, make, team):
    first = make.case(team.facilitator, to="assessment")
    second = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    entries = [
        _entry("x1", first, if_match=first.version - 1),  # stale
        _entry("x2", first, if_match=first.version),
        _entry("y1", second, if_match=second.version),
        {"key": "y2", "kind": "step", "case_id": second.id, "body": a_step(colour="red")},
        _entry("y3", second),
    ]
    results = api.post("/api/v1/outbox", json={"entries": entries}).json["results"]
    assert [r["status"] for r in results] == [409, 424, 201, 422, 424]
    assert results[0]["body"]["current"]["version"] == first.version
    assert results[0]["body"]["instance"] == f"/api/v1/cases/{first.id}/steps"
    assert "colour" in results[3]["body"]["errors"]
    assert count(Step, Step.case_id == first.id) == 0
    assert count(Step, Step.case_id == second.id) == 1
    assert count(IdempotencyRecord) == 1


def test_outbox_batches_are_validated(api_as, bearer, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    assert_problem(api.post("/api/v1/outbox", json={"entries": []}), 422, "entries")
    assert_problem(api.post("/api/v1/outbox", json={"entries": [_entry("k", case, kind="fly")]}),
                   422, "entries.0.kind")
    assert_problem(api.post("/api/v1/outbox", json={"entries": [_entry("k", case, kind="transition")]}),
                   422, "entries.0.trigger")
    client, headers, _ = bearer(team.facilitator, scopes=("cases:read",))
    assert_problem(client.post("/api/v1/outbox", json={"entries": [_entry("k", case)]}, headers=headers), 403)
    other = make.case(team.other_facilitator, to="assessment")
    results = api.post("/api/v1/outbox", json={"entries": [_entry("z", other)]}).json["results"]
    assert results[0]["status"] == 404


def test_a_termination_request_made_offline_goes_through_the_outbox(api_as, make, team):
    case = make.case(team.facilitator, to="evaluation")
    api = api_as(team.facilitator)
    assert api.put(f"/api/v1/cases/{case.id}/evaluation", json=rate_all(case, "achieved")).status_code == 200
    version = case.version + 1
    entries = [
        {"key": "t1", "kind": "termination", "case_id": case.id, "if_match": version,
         "body": {"outcome": "resolved", "aftercare_plan": "Kunjungan bulanan"}},
        {"key": "t2", "kind": "transition", "trigger": "request_termination", "case_id": case.id,
         "if_match": version + 1, "body": {}},
    ]
    results = api.post("/api/v1/outbox", json={"entries": entries}).json["results"]
    assert [r["status"] for r in results] == [200, 200], results
    assert results[1]["body"]["state"] == "termination_review"
    assert [p["case_id"] for p in api_as(team.supervisor).get("/api/v1/sign-offs").json["items"]] == [case.id]
