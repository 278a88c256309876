"""The outbox applies a batch with fewer statements than its entries sent alone (keys reserved
and results stored together, a case locked once for its steps): each entry still answers
exactly as it would alone, once by its key, with its own version check and audit event."""

from __future__ import annotations

import pytest

from caseflow.errors import ValidationError
from caseflow.extensions import db
from caseflow.models import IdempotencyRecord, Step
from caseflow.services.audit import verify_case_chain
from caseflow.services.idempotency import RefusedAfterWriting
from caseflow.signals import step_logged
from tests.support.factories import a_step
from tests.support.queries import count, fresh, reload, statements


def _step(key, case, **extra):
    return {"key": key, "kind": "step", "case_id": case.id, "body": a_step(notes=key)} | extra


def _send(api, entries):
    response = api.post("/api/v1/outbox", json={"entries": entries})
    assert response.status_code == 200, response.json
    return response.json["results"]


def test_the_steps_of_a_batch_lock_their_cases_once_and_keep_their_version_checks(api_as, make, team):
    first = make.case(team.facilitator, to="intervention")
    second = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    v, w = first.version, second.version
    entries = [_step("a1", first, if_match=v), _step("b1", second, if_match=w),
               _step("a2", first, if_match=v + 1), _step("a3", first, if_match=v + 2)]
    with statements() as seen:
        results = _send(api, entries)
    assert [r["status"] for r in results] == [201, 201, 201, 201]
    assert [r["etag"] for r in results] == [f'"{v + 1}"', f'"{w + 1}"', f'"{v + 2}"', f'"{v + 3}"']
    assert len([s for s in seen if "FROM cases JOIN clients" in " ".join(s.split())]) == 1  # locked together
    assert fresh(first).version == v + 3 and count(Step, Step.case_id == first.id) == 3
    assert verify_case_chain(first.id).ok and verify_case_chain(second.id).ok
    # A stale version is still refused after the batch's own steps.
    results = _send(api, [_step("a4", first, if_match=v + 2), _step("a5", first)])
    assert [r["status"] for r in results] == [409, 424]
    assert results[0]["body"]["current"]["version"] == v + 3


def test_a_step_refused_after_its_case_was_read_leaves_the_next_steps_right(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    other = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    v = case.version
    results = _send(api, [
        _step("c1", case, if_match=v),
        _step("c2", case, if_match=v + 1, body=a_step(goal_id=999_999)),  # not in its plan
        _step("d1", other),
    ])
    assert [r["status"] for r in results] == [201, 422, 201]
    assert "goal_id" in results[1]["body"]["errors"]
    results = _send(api, [_step("c3", case, if_match=v + 1), _step("c4", case, if_match=v + 2)])
    assert [r["status"] for r in results] == [201, 201]
    assert fresh(case).version == v + 3 and verify_case_chain(case.id).ok


def test_a_step_after_another_change_of_its_case_sees_that_change(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    v = case.version
    results = _send(api, [
        _step("e1", case, if_match=v),
        {"key": "e2", "kind": "assessment", "case_id": case.id, "if_match": v + 1,
         "body": {"problem": "Dari tablet"}},
        _step("e3", case, if_match=v + 2),
        _step("e4", case, if_match=v + 1),  # based on the version before the assessment
    ])
    assert [r["status"] for r in results] == [201, 200, 201, 409]
    assert results[3]["body"]["current"]["version"] == v + 3
    assert verify_case_chain(case.id).ok


def test_a_batch_of_new_and_already_applied_entries(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    applied = _step("f1", case)  # sent again as it was: its time is to the second
    first = _send(api, [applied])
    results = _send(api, [applied, _step("f2", case)])
    assert [(r["status"], r["replayed"]) for r in results] == [(201, True), (201, False)]
    assert results[0]["body"] == first[0]["body"]
    assert count(Step, Step.case_id == case.id) == 2 and count(IdempotencyRecord) == 2


def test_a_key_sent_twice_in_one_batch(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    other = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    same = _step("g1", case)
    results = _send(api, [same, same, _step("g1", other)])
    # The second is the first's retry; the third names another request with the same key.
    assert [(r["status"], r["replayed"]) for r in results] == [(201, False), (201, True), (422, False)]
    assert results[1]["body"] == results[0]["body"] and "Idempotency-Key" in results[2]["body"]["errors"]
    assert count(Step, Step.case_id == case.id) == 1 and count(Step, Step.case_id == other.id) == 0


def test_a_key_refused_runs_afresh_when_sent_again_in_the_same_batch(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    other = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    retried = _step("h1", other)
    results = _send(api, [_step("h1", case, if_match=case.version - 1), _step("h2", case), retried])
    assert [r["status"] for r in results] == [409, 424, 201]
    assert count(IdempotencyRecord) == 1 and count(Step, Step.case_id == case.id) == 0
    # What the key stands for is the entry that was applied.
    again = _send(api, [retried])
    assert again[0]["replayed"] is True and again[0]["body"] == results[2]["body"]
    # Held back, h2 left no key behind: sent again, it is applied.
    assert _send(api, [_step("h2", case)])[0]["replayed"] is False


def test_a_step_refused_after_it_wrote_fails_the_whole_batch(api_as, make, team):
    """A step runs without a savepoint of its own, because it refuses before it writes; one
    refused after writing could not be undone alone, so nothing of the batch is kept."""
    case = make.case(team.facilitator, to="intervention")
    other = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)

    def refuse_late(sender, **_kwargs):
        if sender.id == other.id:
            raise ValidationError("refused once its step was written")

    with step_logged.connected_to(refuse_late), pytest.raises(RefusedAfterWriting):
        api.post("/api/v1/outbox", json={"entries": [_step("k1", case), _step("k2", other)]})
    assert count(Step, Step.case_id.in_([case.id, other.id])) == 0 and count(IdempotencyRecord) == 0
    assert [r["status"] for r in _send(api, [_step("k1", case), _step("k2", other)])] == [201, 201]
    assert verify_case_chain(case.id).ok and verify_case_chain(other.id).ok


def test_a_steps_case_head_goes_with_the_next_step_of_the_batch(api_as, make, team):
    """PostgreSQL: the head (and audit event) a step leaves is written with the next step
    of the batch, of its case or another; the chain is whole either way, also when a step in
    between makes a planned visit done (an event of its own)."""
    from caseflow.database import utcnow
    from caseflow.services import agenda
    from caseflow.services.context import Actor

    case = make.case(team.facilitator, to="intervention")
    other = make.case(team.facilitator, to="intervention")
    today = utcnow().replace(microsecond=0).isoformat()
    visit = agenda.plan_visit(Actor(user=team.facilitator), case.id, {
        "step_type": "phone_call", "planned_at": today, "place": "Wamena", "purpose": "Kabar"})
    api = api_as(team.facilitator)
    v, w = fresh(case).version, fresh(other).version
    entries = [_step("m1", case, if_match=v), _step("m2", case, if_match=v + 1),
               _step("m3", case, if_match=v + 2, body=a_step(step_type="phone_call", occurred_at=today)),
               _step("m4", case, if_match=v + 3), _step("n1", other, if_match=w), _step("m5", case)]
    with statements() as seen:
        results = _send(api, entries)
    assert [r["status"] for r in results] == [201] * 6
    assert [r["etag"] for r in results] == [f'"{v + n}"' for n in (1, 2, 3, 4)] + [f'"{w + 1}"', f'"{v + 5}"']
    flat = [" ".join(s.split()) for s in seen]
    heads = [s for s in flat if "UPDATE cases SET version" in s]
    if db.engine.dialect.name == "postgresql":
        # m1 → m2 → m3 → m4 → n1 → m5 carried by the next step; m5's alone at the end.
        assert len([s for s in flat if s.startswith("WITH prior_")]) == 5
        assert len(heads) == 6
    assert fresh(case).version == v + 5 and fresh(other).version == w + 1
    assert count(Step, Step.case_id == case.id) == 5
    assert reload(visit).status == "done"
    assert verify_case_chain(case.id).ok and verify_case_chain(other.id).ok


def test_a_steps_head_waits_over_refused_entries_of_other_cases(api_as, make, team):
    """A step's head left for the next step is neither lost nor undone when the entries in
    between are refused (a case the facilitator may not touch, a stale version): it goes
    with the next step applied, or before its case is locked again."""
    case = make.case(team.facilitator, to="intervention")
    other = make.case(team.facilitator, to="intervention")
    third = make.case(team.facilitator, to="intervention")
    foreign = make.case(team.other_facilitator, to="intervention")
    api = api_as(team.facilitator)
    v, w, t = fresh(case).version, fresh(other).version, fresh(third).version
    entries = [_step("p1", case, if_match=v), _step("x1", foreign), _step("q1", other, if_match=w - 1),
               _step("r1", third, if_match=t), _step("p2", case, if_match=v + 1), _step("q2", other)]
    with statements() as seen:
        results = _send(api, entries)
    assert [r["status"] for r in results] == [201, 404, 409, 201, 201, 424]
    assert [r["etag"] for r in results] == [f'"{v + 1}"', None, None, f'"{t + 1}"', f'"{v + 2}"', None]
    if db.engine.dialect.name == "postgresql":
        # p1's head with r1; r1's with p2 (its case locked again after the refusals).
        assert len([s for s in seen if " ".join(s.split()).startswith("WITH prior_")]) == 2
    assert fresh(case).version == v + 2 and fresh(other).version == w and fresh(third).version == t + 1
    assert count(Step, Step.case_id == case.id) == 2 and count(Step, Step.case_id == other.id) == 0
    assert count(IdempotencyRecord) == 3
    for each in (case, other, third, foreign):
        assert verify_case_chain(each.id).ok


def test_a_batch_locks_the_cases_of_its_new_steps_together_and_a_missing_one_answers_alone(api_as, make, team):
    """The cases the batch's steps name are locked in one statement at its first step; a
    case already applied entries named (a replay) is not locked, one that does not exist
    answers 404 for its own entry, and one in the session already is read again alone."""
    case = make.case(team.facilitator, to="intervention")
    other = make.case(team.facilitator, to="intervention")
    replayed = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    applied = _step("s0", replayed)
    _send(api, [applied])
    missing = {"key": "s9", "kind": "step", "case_id": 987_654_321, "body": a_step()}
    with statements() as seen:
        results = _send(api, [applied, _step("s1", case), missing, _step("s2", other), _step("s3", case)])
    assert [(r["status"], r["replayed"]) for r in results] == [
        (201, True), (201, False), (404, False), (201, False), (201, False)]
    locks = [" ".join(s.split()) for s in seen if "FROM cases JOIN clients" in " ".join(s.split())]
    # The three named, together; the missing one alone for its own answer; after that
    # refusal the other two alone again.
    assert len(locks) == 4 and " IN " in locks[0]
    assert count(Step, Step.case_id == case.id) == 2 and count(Step, Step.case_id == other.id) == 1
    assert count(Step, Step.case_id == replayed.id) == 1
    for each in (case, other, replayed):
        assert verify_case_chain(each.id).ok
