"""The case endpoints, allowed and refused, through the browser session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from caseflow.extensions import db
from caseflow.models import Case, Step
from caseflow.schemas.api import StepAnswer, StepOut
from caseflow.services import idempotency
from tests.support.clients import assert_problem
from tests.support.factories import CLIENT_FORM, COMPLETE_ASSESSMENT, a_step, complete_plan
from tests.support.queries import count, events, fresh, sync

CLIENT = CLIENT_FORM | {"consent_confirmed": True}


# --- listing and reading ---------------------------------------------------------------


def test_facilitator_lists_only_their_cases_with_a_cursor(api_as, make, team):
    mine = [make.case(team.facilitator) for _ in range(3)]
    make.case(team.facilitator2)
    api = api_as(team.facilitator)
    first = api.get("/api/v1/cases?limit=2")
    assert first.status_code == 200
    assert [c["id"] for c in first.json["items"]] == [mine[2].id, mine[1].id]
    assert first.json["next_cursor"]
    second = api.get(f"/api/v1/cases?limit=2&cursor={first.json['next_cursor']}")
    assert [c["id"] for c in second.json["items"]] == [mine[0].id]
    assert second.json["next_cursor"] is None


def test_a_cursor_not_given_out_by_the_api_is_refused(api_as, team):
    response = api_as(team.facilitator).get("/api/v1/cases?cursor=bm9wZQ")
    assert_problem(response, 400, "cursor")


def test_unknown_query_parameters_and_bad_limits_are_named(api_as, team):
    api = api_as(team.facilitator)
    assert_problem(api.get("/api/v1/cases?limit=0"), 422, "limit")
    assert_problem(api.get("/api/v1/cases?offset=10"), 422, "offset")


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_no_cases(api_as, make, team, role):
    make.case(team.facilitator)
    response = api_as(getattr(team, role)).get("/api/v1/cases")
    assert response.status_code == 200 and response.json["items"] == []


def test_supervisor_and_auditor_see_the_team_case(api_as, make, team):
    case = make.case(team.facilitator)
    for who in (team.supervisor, team.auditor):
        assert [c["id"] for c in api_as(who).get("/api/v1/cases").json["items"]] == [case.id]
    assert api_as(team.province_auditor).get("/api/v1/cases").json["items"] == []


def test_reading_a_case_gives_records_steps_actions_and_etag_and_is_recorded(api_as, make, team):
    case = make.case(team.facilitator, to="evaluation")
    response = api_as(team.facilitator).get(f"/api/v1/cases/{case.id}")
    assert response.status_code == 200
    body = response.json
    assert response.headers["ETag"] == f'"{case.version}"'
    assert body["state"] == "evaluation" and body["assessment"]["problem"]
    assert body["plan"]["goals"][0]["description"] == "Kembali sekolah"
    assert body["steps"] and body["client"]["masked_nik"].count("*") == 10
    assert "nik" not in body["client"]
    assert "request_termination" in [a["trigger"] for a in body["actions"]]
    viewed = events("case.viewed", case_id=case.id)
    assert viewed and viewed[-1].context["page"] == "api" and viewed[-1].context["via"] == "api"


def test_the_detail_says_whether_a_step_was_logged_in_the_stage(api_as, make, team):
    """The step guard's answer is read with the case's row: refused before the stage's
    first step, free after it, on the API and on the page alike."""
    case = make.case(team.facilitator, to="intervention")
    client = api_as(team.facilitator)

    def start_evaluation():
        actions = client.get(f"/api/v1/cases/{case.id}").json["actions"]
        return next(a for a in actions if a["trigger"] == "start_evaluation")

    assert not start_evaluation()["enabled"]
    assert [m["record"] for m in start_evaluation()["missing"]] == ["steps"]
    assert 'aria-describedby="missing-start_evaluation"' in client.get(f"/cases/{case.id}").get_data(as_text=True)
    response = client.post(f"/api/v1/cases/{case.id}/steps", json=a_step(),
                           headers={"If-Match": f'"{fresh(case).version}"', "Idempotency-Key": "step-in-stage"})
    assert response.status_code == 201
    assert start_evaluation()["enabled"] and start_evaluation()["missing"] == []
    assert 'aria-describedby="missing-start_evaluation"' not in client.get(f"/cases/{case.id}").get_data(as_text=True)


def test_another_facilitators_case_is_not_found_and_the_attempt_is_recorded(api_as, make, team):
    case = make.case(team.facilitator)
    response = api_as(team.other_facilitator).get(f"/api/v1/cases/{case.id}")
    body = assert_problem(response, 404)
    assert body["type"] == "urn:caseflow:problem:not-found" and body["instance"] == f"/api/v1/cases/{case.id}"
    assert events("access.denied", actor_id=team.other_facilitator.id)


def test_unknown_case_is_not_found(api_as, team):
    assert_problem(api_as(team.facilitator).get("/api/v1/cases/999999"), 404)


# --- opening, clients --------------------------------------------------------------------


def test_facilitator_registers_a_client_and_opens_a_case(api_as, team):
    api = api_as(team.facilitator)
    client = api.post("/api/v1/clients", json=CLIENT)
    assert client.status_code == 201, client.json
    assert client.json["nik"] == CLIENT["nik"]
    opened = api.post("/api/v1/cases", json={"client_id": client.json["id"], "ppks_category_code": "P02"})
    assert opened.status_code == 201, opened.json
    assert opened.json["state"] == "recorded" and opened.headers["ETag"] == '"1"'
    assert api.get(f"/api/v1/clients/{client.json['id']}").status_code == 200


def test_a_client_is_hidden_from_people_without_their_case(api_as, make, team):
    case = make.case(team.facilitator)
    assert_problem(api_as(team.other_facilitator).get(f"/api/v1/clients/{case.client_id}"), 404)
    seen_by_auditor = api_as(team.auditor).get(f"/api/v1/clients/{case.client_id}")
    assert seen_by_auditor.status_code == 200 and seen_by_auditor.json["nik"] is None


def test_a_token_cannot_open_a_case_for_a_client_out_of_reach(bearer, make, team):
    """The client id travels in the body: the answer is the one an unknown id gets, the
    attempt is recorded, and the client's record stays unread."""
    theirs = make.client(team.other_facilitator, province="53", health_notes="HIV positif")
    api, headers, _token = bearer(team.facilitator, scopes=("cases:read", "cases:write"))
    refused = api.post("/api/v1/cases", json={"client_id": theirs.id, "ppks_category_code": "P02"},
                       headers=headers)
    unknown = api.post("/api/v1/cases", json={"client_id": 10**6, "ppks_category_code": "P02"}, headers=headers)
    assert assert_problem(refused, 422, "client_id") == assert_problem(unknown, 422, "client_id") | {
        "instance": refused.json["instance"]}
    assert count(Case) == 0
    assert len(events("access.denied", actor_id=team.facilitator.id)) == 2
    assert_problem(api.get(f"/api/v1/clients/{theirs.id}", headers=headers), 404)


def test_another_teams_sign_off_answers_like_an_unknown_one(api_as, make, team):
    theirs = make.case(team.other_facilitator, to="termination_review")
    api = api_as(team.supervisor)
    refused = api.post(f"/api/v1/sign-offs/{theirs.pending_sign_off.id}/decision", json={"decision": "approve"})
    unknown = api.post("/api/v1/sign-offs/999999/decision", json={"decision": "approve"})
    assert assert_problem(refused, 404)["detail"] == assert_problem(unknown, 404)["detail"]
    assert fresh(theirs.id).state == "termination_review"


def test_an_outbox_entry_for_someone_elses_case_is_refused_and_recorded(api_as, make, team):
    theirs = make.case(team.facilitator2, to="intervention")
    response = api_as(team.facilitator).post("/api/v1/outbox", json={"entries": [
        {"key": "k-1", "kind": "step", "case_id": theirs.id, "body": a_step()}]})
    assert response.status_code == 200 and response.json["results"][0]["status"] == 404
    [denied] = events("access.denied", actor_id=team.facilitator.id)
    assert denied.context["what"] == "outbox step" and denied.context["case_id"] == theirs.id
    assert count(Step, Step.case_id == theirs.id) == 0


def test_client_with_impossible_nik_is_refused_at_the_field(api_as, team):
    response = api_as(team.facilitator).post("/api/v1/clients", json=CLIENT | {"nik": "9901015508850001"})
    assert_problem(response, 422, "nik")


def test_admin_cannot_open_a_case(api_as, make, team):
    case = make.case(team.facilitator)
    response = api_as(team.admin).post("/api/v1/cases", json={"client_id": case.client_id,
                                                              "ppks_category_code": "P02"})
    assert_problem(response, 403)


# --- stage records, steps, transitions ----------------------------------------------------


def test_a_whole_case_through_the_api(api_as, make, team):
    case = make.case(team.facilitator)
    api = api_as(team.facilitator)
    base = f"/api/v1/cases/{case.id}"
    response = api.post(f"{base}/transitions/start_assessment", json={}, headers={"If-Match": '"1"'})
    assert response.status_code == 200 and response.json["state"] == "assessment"
    etag = response.headers["ETag"]
    response = api.put(f"{base}/assessment", json=COMPLETE_ASSESSMENT, headers={"If-Match": etag})
    assert response.status_code == 200, response.json
    assert api.post(f"{base}/transitions/complete_assessment", json={}).status_code == 200
    assert api.put(f"{base}/plan", json=complete_plan()).status_code == 200
    assert api.post(f"{base}/transitions/start_intervention").status_code == 200
    step = api.post(f"{base}/steps", json=a_step())
    assert step.status_code == 201 and step.json["step_type"] == "home_visit"
    assert api.post(f"{base}/transitions/start_evaluation").status_code == 200
    goal_id = api.get(base).json["plan"]["goals"][0]["id"]
    response = api.put(f"{base}/evaluation", json={"ratings": [{"goal_id": goal_id, "rating": "achieved"}]})
    assert response.status_code == 200, response.json
    response = api.put(f"{base}/termination", json={"outcome": "resolved", "aftercare_plan": "Bulanan"})
    assert response.status_code == 200, response.json
    response = api.post(f"{base}/transitions/request_termination", json={})
    assert response.status_code == 200 and response.json["state"] == "termination_review"

    supervisor = api_as(team.supervisor)
    pending = supervisor.get("/api/v1/sign-offs")
    assert [p["case_id"] for p in pending.json["items"]] == [case.id]
    decided = supervisor.post(f"/api/v1/sign-offs/{pending.json['items'][0]['id']}/decision",
                              json={"decision": "approve"})
    assert decided.status_code == 200 and decided.json["decision"] == "approved"
    assert fresh(case.id).state == "resolved"


def test_a_refused_guard_names_what_is_missing(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    assert api.put(f"/api/v1/cases/{case.id}/assessment", json={"needs": "Sekolah"}).status_code == 200
    response = api.post(f"/api/v1/cases/{case.id}/transitions/complete_assessment", json={})
    body = assert_problem(response, 409)
    assert body["type"] == "urn:caseflow:problem:guard-failed"
    assert {m["field"] for m in body["missing"]} >= {"problem", "risk_level"}
    assert "assessment.problem" in body["errors"]


def test_an_unknown_trigger_is_refused(api_as, make, team):
    case = make.case(team.facilitator)
    response = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/transitions/fly_away", json={})
    assert response.status_code in (404, 409) and response.mimetype == "application/problem+json"


def test_facilitator_may_not_decide_a_sign_off(api_as, make, team):
    case = make.case(team.facilitator, to="termination_review")
    sign_off_id = case.pending_sign_off.id
    response = api_as(team.facilitator).post(f"/api/v1/sign-offs/{sign_off_id}/decision",
                                             json={"decision": "approve"})
    assert_problem(response, 403)
    assert api_as(team.facilitator).get("/api/v1/sign-offs").json["items"] == []


def test_rejection_without_reason_is_named(api_as, make, team):
    case = make.case(team.facilitator, to="termination_review")
    response = api_as(team.supervisor).post(f"/api/v1/sign-offs/{case.pending_sign_off.id}/decision",
                                            json={"decision": "reject"})
    assert_problem(response, 422, "reason")


def test_supervisor_reassigns_and_the_facilitator_may_not(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    refused = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/reassignments",
                                            json={"facilitator_id": team.facilitator2.id, "reason": "x"})
    assert_problem(refused, 403)
    response = api_as(team.supervisor).post(f"/api/v1/cases/{case.id}/reassignments",
                                            json={"facilitator_id": team.facilitator2.id, "reason": "Cuti"})
    assert response.status_code == 200 and response.json["facilitator_id"] == team.facilitator2.id
    # The first facilitator's queued write now meets a conflict, not a 'not found'.
    stale = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/steps", json=a_step(),
                                          headers={"If-Match": f'"{case.version}"'})
    body = assert_problem(stale, 409)
    assert body["current"]["reassigned"] is True


def test_actions_list_what_is_missing(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    actions = api_as(team.facilitator).get(f"/api/v1/cases/{case.id}/actions").json
    assert actions[0]["trigger"] == "complete_assessment" and actions[0]["enabled"] is False
    assert actions[0]["missing"]
    assert api_as(team.supervisor).get(f"/api/v1/cases/{case.id}/actions").json == []


def test_steps_are_listed_in_order_with_a_cursor(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    now = datetime.now(UTC)
    for hours in (5, 3, 4):
        occurred = (now - timedelta(hours=hours)).isoformat()
        assert api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(occurred_at=occurred)).status_code == 201
    first = api.get(f"/api/v1/cases/{case.id}/steps?limit=2").json
    second = api.get(f"/api/v1/cases/{case.id}/steps?limit=2&cursor={first['next_cursor']}").json
    times = [s["occurred_at"] for s in first["items"] + second["items"]]
    assert len(times) == 3 and times == sorted(times) and second["next_cursor"] is None
    assert_problem(api_as(team.other_facilitator).get(f"/api/v1/cases/{case.id}/steps"), 404)


def test_device_time_is_recorded_beside_the_server_time(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    done = "2026-11-20T08:15:00+09:00"
    response = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/steps", json=a_step(),
                                             headers={"X-Device-Time": done})
    assert response.status_code == 201
    event = events("step.logged", case_id=case.id)[-1]
    assert event.context["device_time"].startswith("2026-11-19T23:15:00")
    assert event.occurred_at > datetime(2026, 11, 20, tzinfo=UTC)
    bad = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/steps", json=a_step(),
                                        headers={"X-Device-Time": "yesterday"})
    assert_problem(bad, 400, "X-Device-Time")


# --- audit events ---------------------------------------------------------------------


def test_audit_events_for_auditors_and_the_cases_people(api_as, make, team):
    case = make.case(team.facilitator, to="planning")
    for who in (team.auditor, team.facilitator, team.supervisor):
        response = api_as(who).get(f"/api/v1/cases/{case.id}/audit-events?limit=3")
        assert response.status_code == 200
        assert [e["seq"] for e in response.json["items"]] == [1, 2, 3]
        following = api_as(who).get(f"/api/v1/cases/{case.id}/audit-events?cursor={response.json['next_cursor']}")
        assert following.json["items"][0]["seq"] == 4
    for who in (team.other_facilitator, team.province_auditor, team.manager):
        assert_problem(api_as(who).get(f"/api/v1/cases/{case.id}/audit-events"), 404)


# --- reference data ---------------------------------------------------------------------


def test_reference_data(api_as, team):
    api = api_as(team.admin)
    provinces = api.get("/api/v1/reference/provinces").json
    assert len(provinces) == 38 and {"code": "91"}.items() <= next(p for p in provinces if p["code"] == "91").items()
    assert next(p for p in provinces if p["code"] == "91")["timezone_abbreviation"] == "WIT"
    assert len(api.get("/api/v1/reference/ppks-categories").json) == 26


def test_signed_out_requests_get_401_problem(app):
    response = app.test_client().get("/api/v1/reference/provinces")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- optimistic concurrency -------------------------------------------------------------


def test_stale_if_match_gets_409_with_the_current_case(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    response = api.put(f"/api/v1/cases/{case.id}/assessment", json={"problem": "A"},
                       headers={"If-Match": f'"{case.version - 1}"'})
    body = assert_problem(response, 409)
    assert body["current"]["version"] == case.version and body["current"]["state"] == "assessment"
    assert fresh(case.id).assessment is None


def test_malformed_if_match_is_named(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    response = api_as(team.facilitator).put(f"/api/v1/cases/{case.id}/assessment", json={},
                                            headers={"If-Match": "yesterday"})
    assert_problem(response, 400, "If-Match")


# --- bad input ----------------------------------------------------------------------------


def test_malformed_json_is_a_400_problem(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    response = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/steps", data="{not json",
                                             content_type="application/json")
    assert_problem(response, 400, "body")
    assert count(Step, Step.case_id == case.id) == 0


def test_an_auditor_is_refused_a_change_before_its_body_is_read(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    api = api_as(team.auditor)
    for body in (a_step(colour="red"), a_step()):  # a bad body and a good one: the same 403
        problem = assert_problem(api.post(f"/api/v1/cases/{case.id}/steps", json=body), 403)
        assert "errors" not in problem and problem["type"].endswith(":not-allowed")
        assert "Auditor" in problem["detail"]
    assert_problem(api.post("/api/v1/outbox", json={"entries": "nonsense"}), 403)
    assert len(events("access.denied", actor_id=team.auditor.id)) == 3
    assert count(Step, Step.case_id == case.id) == 0
    # Reading stays open to them.
    assert api.get(f"/api/v1/cases/{case.id}").status_code == 200


def test_unknown_fields_are_refused_by_name(api_as, make, team):
    case = make.case(team.facilitator, to="planning")
    api = api_as(team.facilitator)
    response = api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(colour="red"))
    assert_problem(response, 422, "colour")
    response = api.put(f"/api/v1/cases/{case.id}/plan",
                       json={"goals": [{"description": "x", "owner": "me"}]})
    assert_problem(response, 422, "goals.0.owner")
    assert count(Step, Step.case_id == case.id) == 0


def test_wrong_types_are_refused_by_name(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    assert_problem(api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(goal_id="first")), 422, "goal_id")
    assert_problem(api.post(f"/api/v1/cases/{case.id}/steps", json=a_step(notes=42)), 422, "notes")
    assert_problem(api.post(f"/api/v1/cases/{case.id}/steps", json=[a_step()]), 422)


def test_oversized_bodies_get_413_problem(api_as, make, team, app):
    case = make.case(team.facilitator, to="assessment")
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/steps",
                                             data='{"notes": "' + big + '"}', content_type="application/json")
    assert_problem(response, 413, "body")


def test_unknown_api_paths_and_methods_are_problems(api_as, team):
    api = api_as(team.facilitator)
    assert_problem(api.get("/api/v1/nothing-here"), 404)
    response = api.delete("/api/v1/cases")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_web_pages_keep_their_html_errors(api_as, team):
    response = api_as(team.facilitator).get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"



@pytest.mark.parametrize("with_place_and_goal", [False, True])
def test_a_logged_steps_answer_is_the_step_as_step_out_dumps_it(api_as, make, team, with_place_and_goal):
    """The answer is written out (schemas.api.StepAnswer), not dumped by marshmallow: the
    same text, its keys in the same order, as StepOut gives for the step stored."""
    case = make.case(team.facilitator, to="intervention")
    body = a_step()
    if with_place_and_goal:
        body |= {"location": "Desa Sukamaju",
                 "goal_id": next(g.id for g in fresh(case.id).plan.goals if not g.archived)}
    response = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/steps", json=body)
    assert response.status_code == 201, response.json
    sync()
    stored = db.session.get(Step, response.json["id"])
    assert (stored.location is not None) is (stored.goal_id is not None) is with_place_and_goal
    expected = StepOut().dump(stored)
    assert StepAnswer.dump(stored) == expected and list(StepAnswer.dump(stored)) == list(expected)
    assert response.get_data(as_text=True) == idempotency.dumps(expected)
