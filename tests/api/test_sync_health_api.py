"""Sync health (issue 15): the tablet's report of what waits in its outbox is recorded with
each sync, and work that reached the server more than CASEFLOW_SYNC_REVIEW_DAYS after it
was done on the tablet is marked for the supervisor's review — only their own team's."""

from __future__ import annotations

from datetime import timedelta

from caseflow.database import utcnow
from caseflow.extensions import db
from caseflow.models import LateArrival, Step, SyncReport
from caseflow.services import sync_health
from tests.support.clients import isolated_client, login
from tests.support.factories import a_step
from tests.support.queries import count, sync


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _entry(key: str, case_id: int, done_at=None) -> dict:
    entry = {"key": key, "kind": "step", "case_id": case_id, "body": a_step()}
    if done_at is not None:
        entry["device_time"] = _iso(done_at)
    return entry


def _report(user) -> SyncReport | None:
    sync()
    return db.session.get(SyncReport, user.id)


def test_the_tablets_report_is_recorded_with_what_the_server_did_not_apply(api_as, make, team):
    mine = make.case(team.facilitator, to="intervention")
    theirs = make.case(team.facilitator2, to="intervention")
    now = utcnow()
    oldest_left, refused_at = now - timedelta(hours=30), now - timedelta(hours=50)
    response = api_as(team.facilitator).post("/api/v1/outbox", json={
        "entries": [_entry("sh-1", mine.id, now - timedelta(hours=1)), _entry("sh-2", theirs.id, refused_at)],
        "waiting": 2, "oldest_waiting_at": _iso(oldest_left)})
    assert response.status_code == 200
    assert [r["status"] for r in response.json["results"]] == [201, 404]
    report = _report(team.facilitator)
    # the two the tablet kept back, and the refused one that stays on it
    assert report.waiting == 3
    assert abs((report.oldest_waiting_at - refused_at).total_seconds()) < 1
    assert (utcnow() - report.last_sync_at) < timedelta(minutes=5)


def test_an_old_tablet_that_says_nothing_leaves_the_queue_unknown(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    response = api_as(team.facilitator).post("/api/v1/outbox", json={"entries": [_entry("sh-3", case.id)]})
    assert response.status_code == 200 and response.json["results"][0]["status"] == 201
    report = _report(team.facilitator)
    assert report is not None and report.waiting is None and report.oldest_waiting_at is None


def test_an_emptied_outbox_reports_nothing_waiting(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    api_as(team.facilitator).post("/api/v1/outbox", json={"entries": [_entry("sh-4", case.id)], "waiting": 0,
                                                          "oldest_waiting_at": None})
    report = _report(team.facilitator)
    assert report.waiting == 0 and report.oldest_waiting_at is None


def test_a_bad_report_is_refused_at_its_field_and_nothing_is_applied(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    response = api_as(team.facilitator).post("/api/v1/outbox", json={"entries": [_entry("sh-5", case.id)],
                                                                     "waiting": -1})
    assert response.status_code == 422 and "waiting" in response.get_data(as_text=True)
    assert count(Step, Step.case_id == case.id) == 0 and _report(team.facilitator) is None


def test_work_that_reached_the_server_late_is_marked_once(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    now = utcnow()
    late = _entry("sh-late", case.id, now - timedelta(days=5))
    on_time = _entry("sh-fresh", case.id, now - timedelta(days=1))
    api = api_as(team.facilitator)
    assert [r["status"] for r in api.post("/api/v1/outbox", json={"entries": [late, on_time]}).json["results"]] \
        == [201, 201]
    sync()
    [marked] = db.session.query(LateArrival).filter_by(case_id=case.id).all()
    step_id = api.post("/api/v1/outbox", json={"entries": [late]}).json["results"][0]["body"]["id"]
    assert marked.step_id == step_id and marked.kind == "step" and marked.user_id == team.facilitator.id
    assert count(LateArrival, LateArrival.case_id == case.id) == 1  # the replay adds nothing

    assert [a.id for a in sync_health.late_arrivals_for(team.supervisor)] == [marked.id]
    assert sync_health.late_arrivals_for(team.other_supervisor) == []
    assert sync_health.late_arrivals_for(team.facilitator) == []
    assert sync_health.late_step_ids(team.supervisor, case, [step_id]) == {step_id}
    assert sync_health.late_step_ids(team.facilitator, case, [step_id]) == set()


def test_the_review_threshold_is_a_setting(app_with, make, team):
    case = make.case(team.facilitator, to="intervention")
    client = isolated_client(app_with(CASEFLOW_SYNC_REVIEW_DAYS=10))
    login(client, team.facilitator.username)
    answer = client.post("/api/v1/outbox", json={"entries": [_entry("sh-10", case.id, utcnow() - timedelta(days=5))]})
    assert answer.json["results"][0]["status"] == 201
    assert count(LateArrival, LateArrival.case_id == case.id) == 0
