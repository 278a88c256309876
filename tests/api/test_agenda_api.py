"""The agenda through the API: one's own agenda (and the 14 days the tablet keeps), the
team's for a supervisor, planning and cancelling a visit; another team's is refused."""

from __future__ import annotations

from datetime import timedelta

from tests.support.clients import assert_problem
from tests.support.factories import a_step, today_for


def noon(day) -> str:
    return f"{day.isoformat()}T12:00:00"


def test_a_visit_planned_through_the_api_is_on_the_agenda_until_its_step(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    tomorrow = today_for(team.facilitator) + timedelta(days=1)
    planned = api.post(f"/api/v1/cases/{case.id}/visits", json={
        "step_type": "home_visit", "planned_at": noon(tomorrow), "place": "Wamena", "purpose": "Cek"})
    assert planned.status_code == 201 and planned.json["status"] == "planned"
    agenda = api.get("/api/v1/agenda").json
    [item] = [i for i in agenda["this_week"] if i["kind"] == "planned_visit"]
    assert item["record_id"] == planned.json["id"] and item["case_number"] == case.number
    assert item["kind_title"] == "Kunjungan terencana" and "client_name" not in item
    assert api.get("/api/v1/agenda?days=14").status_code == 200
    assert_problem(api.get("/api/v1/agenda?days=99"), 422, "days")
    assert_problem(api.post(f"/api/v1/cases/{case.id}/visits", json={"step_type": "home_visit"}), 422,
                   "planned_at")
    assert_problem(api.post(f"/api/v1/visits/{planned.json['id']}/cancel", json={"reason": ""}), 422, "reason")
    cancelled = api.post(f"/api/v1/visits/{planned.json['id']}/cancel", json={"reason": "Klien sakit"})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert not [i for i in api.get("/api/v1/agenda").json["this_week"] if i["kind"] == "planned_visit"]
    assert api.post(f"/api/v1/cases/{case.id}/steps", json=a_step()).status_code == 201


def test_another_teams_agenda_and_visits_are_out_of_reach(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    planned = api_as(team.facilitator).post(f"/api/v1/cases/{case.id}/visits", json={
        "step_type": "phone_call", "planned_at": noon(today_for(team.facilitator) + timedelta(days=2))}).json
    other = api_as(team.other_facilitator)
    assert_problem(other.post(f"/api/v1/cases/{case.id}/visits", json={
        "step_type": "phone_call", "planned_at": noon(today_for(team.facilitator) + timedelta(days=2))}), 404)
    assert_problem(other.post(f"/api/v1/visits/{planned['id']}/cancel", json={"reason": "x"}), 404)
    supervisor = api_as(team.supervisor)
    team_items = supervisor.get("/api/v1/agenda/team").json["this_week"]
    assert [i["record_id"] for i in team_items if i["kind"] == "planned_visit"] == [planned["id"]]
    assert_problem(supervisor.get(f"/api/v1/agenda/team?facilitator_id={team.other_facilitator.id}"), 404)
    assert not api_as(team.other_supervisor).get("/api/v1/agenda/team").json["this_week"]
    assert_problem(api_as(team.facilitator).get("/api/v1/agenda/team"), 403)
    assert_problem(api_as(team.manager).get("/api/v1/agenda"), 403)


def test_work_targets_through_the_api(api_as, make, team):
    make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    manager = api_as(team.manager)
    assert manager.post("/api/v1/targets/national", json={"period_kind": "month", "measure": "cases_resolved",
                                                         "target": 2}).status_code == 201
    provinces = manager.get("/api/v1/targets").json["rows"]
    assert provinces[-1]["province"] is None and provinces[-1]["measures"]["cases_resolved"] == {
        "actual": 1, "target": 6, "percent": 17}  # three facilitators (two in Papua, one in NTT) × 2
    assert all("facilitator_id" not in row for row in provinces)
    own = api_as(team.facilitator).get("/api/v1/targets").json
    [row] = own["rows"]
    assert row["facilitator_id"] == team.facilitator.id and row["measures"]["cases_resolved"]["actual"] == 1
    start = own["start"]
    supervisor = api_as(team.supervisor)
    assert_problem(supervisor.post("/api/v1/targets/facilitators", json={
        "facilitator_id": team.facilitator.id, "period_kind": "month", "period_start": start,
        "measure": "cases_resolved", "target": 1}), 422, "reason")
    assert_problem(supervisor.post("/api/v1/targets/facilitators", json={
        "facilitator_id": team.other_facilitator.id, "period_kind": "month", "period_start": start,
        "measure": "cases_resolved", "target": 1, "reason": "x"}), 404, "facilitator_id")
    assert supervisor.post("/api/v1/targets/facilitators", json={
        "facilitator_id": team.facilitator.id, "period_kind": "month", "period_start": start,
        "measure": "cases_resolved", "target": 1, "reason": "Cuti melahirkan"}).status_code == 201
    rows = {r["facilitator_id"]: r for r in supervisor.get("/api/v1/targets").json["rows"]}
    assert rows[team.facilitator.id]["measures"]["cases_resolved"]["percent"] == 100
    assert_problem(api_as(team.facilitator).post("/api/v1/targets/national", json={
        "period_kind": "month", "measure": "cases_resolved", "target": 9}), 403)
    assert_problem(api_as(team.admin).get("/api/v1/targets"), 403)


def test_an_action_point_is_on_its_owners_agenda_until_ticked_off_through_the_api(api_as, recorded_session, team):
    case, supervisor, recorded = recorded_session
    assert recorded.status_code == 201
    api = api_as(team.facilitator)
    [item] = [i for i in api.get("/api/v1/agenda").json["this_week"] if i["kind"] == "action_point"]
    assert (item["case_id"], item["case_number"], item["owner_id"]) == (case.id, case.number, team.facilitator.id)
    assert item["kind_title"] == "Tindak lanjut supervisi" and not item["overdue"]
    team_items = supervisor.get("/api/v1/agenda/team").json["this_week"]
    assert [(i["record_id"], i["owner_id"]) for i in team_items if i["kind"] == "action_point"] == [
        (item["record_id"], team.facilitator.id)]
    assert not [i for i in api_as(team.other_supervisor).get("/api/v1/agenda/team").json["this_week"]
                if i["kind"] == "action_point"]
    assert api.post(f"/api/v1/action-points/{item['record_id']}/done").status_code == 200
    agenda = api.get("/api/v1/agenda").json
    assert not [i for g in ("overdue", "due_today", "this_week") for i in agenda[g] if i["kind"] == "action_point"]
