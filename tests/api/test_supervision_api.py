"""The supervisor's word and the supervision record through the API: notifications with
their unread count, the evaluation stage in one call, a request's earlier rejections,
handing a facilitator's cases over, and supervision sessions with action points."""

from __future__ import annotations

from caseflow.extensions import db
from caseflow.models import Case
from caseflow.services import cases
from caseflow.services.context import Actor
from tests.support.clients import assert_problem


def test_a_rejection_reaches_the_facilitator_and_the_next_request_shows_it(api_as, make, team):
    case = make.case(team.facilitator, to="termination_review")
    boss = api_as(team.supervisor)
    first = case.pending_sign_off.id
    assert boss.post(f"/api/v1/sign-offs/{first}/decision",
                     json={"decision": "reject", "reason": "Bukti belum cukup"}).status_code == 200
    me = api_as(team.facilitator)
    notes = me.get("/api/v1/notifications").json
    assert notes["unread"] == 1 and "Bukti belum cukup" in notes["items"][0]["text"]
    assert me.post("/api/v1/notifications/read").json == {"marked": 1}
    assert me.get("/api/v1/notifications").json["unread"] == 0
    goal = case.plan.goals[0].id
    refused = me.post(f"/api/v1/cases/{case.id}/evaluation/submit", json={
        "ratings": [{"goal_id": goal, "rating": "partly_achieved"}], "next": "request_termination",
        "outcome": "resolved"})
    assert_problem(refused, 422, "aftercare_plan")
    sent = me.post(f"/api/v1/cases/{case.id}/evaluation/submit", json={
        "ratings": [{"goal_id": goal, "rating": "partly_achieved"}], "next": "request_termination",
        "outcome": "resolved", "aftercare_plan": "Kunjungan"})
    assert sent.status_code == 200 and sent.json["state"] == "termination_review"
    assert sent.json["next_action"]["holder"] == "supervisor"
    db.session.rollback()
    second = db.session.get(Case, case.id).pending_sign_off.id
    [earlier] = boss.get(f"/api/v1/sign-offs/{second}/earlier-rejections").json
    assert earlier["reason"] == "Bukti belum cukup" and earlier["ratings_changed"][0]["after"] == "partly_achieved"
    assert api_as(team.other_supervisor).get(f"/api/v1/sign-offs/{second}/earlier-rejections").status_code == 404


def test_handover_through_the_api(api_as, make, team):
    mine = [make.case(team.facilitator, to="assessment"), make.case(team.facilitator, to="planning")]
    boss = api_as(team.supervisor)
    plan = boss.post(f"/api/v1/facilitators/{team.facilitator.id}/handover/plan",
                     json={"receiver_ids": [team.facilitator2.id]})
    assert plan.status_code == 200 and {i["case_id"] for i in plan.json["items"]} == {c.id for c in mine}
    assert_problem(boss.post(f"/api/v1/facilitators/{team.facilitator.id}/handover/plan",
                             json={"receiver_ids": [team.other_facilitator.id]}), 422, "receiver_ids")
    done = boss.post(f"/api/v1/facilitators/{team.facilitator.id}/handover",
                     json={"assignments": [{"case_id": i["case_id"], "facilitator_id": i["facilitator_id"]}
                                           for i in plan.json["items"]], "reason": "Kontrak berakhir"})
    assert done.status_code == 200 and len(done.json["items"]) == 2
    db.session.rollback()
    assert {db.session.get(Case, c.id).facilitator_id for c in mine} == {team.facilitator2.id}
    assert api_as(team.other_supervisor).post(f"/api/v1/facilitators/{team.facilitator2.id}/handover/plan",
                                              json={"receiver_ids": [team.facilitator.id]}).status_code == 404
    assert api_as(team.facilitator2).post(f"/api/v1/facilitators/{team.facilitator.id}/handover/plan",
                                          json={"receiver_ids": [team.facilitator2.id]}).status_code == 403


def test_a_session_and_its_action_point_through_the_api(api_as, recorded_session, team):
    case, boss, made = recorded_session
    assert made.status_code == 201, made.json
    [point] = made.json["action_points"]
    assert point["status"] == "upcoming"
    me = api_as(team.facilitator)
    assert [p["id"] for p in me.get(f"/api/v1/cases/{case.id}/action-points").json] == [point["id"]]
    assert [s["id"] for s in me.get("/api/v1/supervision/sessions").json] == [made.json["id"]]
    assert api_as(team.facilitator2).post(f"/api/v1/action-points/{point['id']}/done").status_code == 404
    done = me.post(f"/api/v1/action-points/{point['id']}/done")
    assert done.status_code == 200 and done.json["done_at"] and done.json["status"] is None
    assert_problem(boss.post("/api/v1/supervision/sessions", json={"kind": "x"}), 422, "kind")
    cases.record_case_view(Actor(user=team.facilitator), case.id)  # the case is still readable
