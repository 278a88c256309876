"""The outbox applies a batch with fewer statements than its entries sent alone (a case locked
once for its steps): each entry still answers exactly as it would alone, once by its key,
with its own version check and audit event."""

from __future__ import annotations

from caseflow.models import Step
from caseflow.services.audit import verify_case_chain
from tests.support.factories import a_step
from tests.support.queries import count, fresh, statements


def _step(key, case, **extra):
    return {"key": key, "kind": "step", "case_id": case.id, "body": a_step(notes=key)} | extra


def _send(api, entries):
    response = api.post("/api/v1/outbox", json={"entries": entries})
    assert response.status_code == 200, response.json
    return response.json["results"]


def test_the_steps_of_one_case_lock_it_once_and_keep_their_version_checks(api_as, make, team):
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
    assert len([s for s in seen if "FROM cases JOIN clients" in " ".join(s.split())]) == 2  # locked once each
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
