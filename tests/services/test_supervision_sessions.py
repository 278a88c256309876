"""Supervision as a record: sessions (individual or group, about one or more cases) with
notes and action points that have owners and due dates; the points appear on the cases
and are ticked off there; the team page shows when each facilitator was last supervised.
Every id of the request is checked in the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow.errors import NotAllowed, NotFound, ValidationError
from caseflow.extensions import db
from caseflow.models import ActionPoint, AuditEvent, Notification, SupervisionSession
from caseflow.models.deadlines import DeadlineStatus
from caseflow.services import notifications, supervision
from caseflow.services.context import Actor
from tests.support.factories import today_for


def act(user) -> Actor:
    return Actor(user=user)


@pytest.fixture
def cases(team, make):
    return make.case(team.facilitator, to="intervention"), make.case(team.facilitator2, to="assessment")


def a_session(team, cases, **overrides):
    today = today_for(team.supervisor)
    mine, theirs = cases
    data = {"kind": "group", "held_on": today.isoformat(),
            "facilitator_ids": [team.facilitator.id, team.facilitator2.id], "case_ids": [mine.id, theirs.id],
            "notes": "Membahas hambatan sekolah anak",
            "action_points": [{"description": "Kunjungi sekolah bersama orang tua", "owner_id": team.facilitator.id,
                               "due_on": (today + timedelta(days=7)).isoformat(), "case_id": mine.id},
                              {"description": "Hubungi Dinas Pendidikan", "owner_id": team.supervisor.id,
                               "due_on": (today + timedelta(days=3)).isoformat()}]}
    return data | overrides


def test_a_group_session_with_action_points_is_recorded_audited_and_told(team, cases):
    session = supervision.record_session(act(team.supervisor), a_session(team, cases))
    assert session.kind == "group" and {u.id for u in session.facilitators} == {team.facilitator.id,
                                                                                   team.facilitator2.id}
    assert len(session.action_points) == 2
    for case in cases:
        [event] = db.session.execute(select(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.action == "supervision.session_recorded")).scalars()
        assert event.after["notes"] is True  # the notes stay in the record, not in the trail
    [notice] = db.session.execute(select(Notification).where(Notification.user_id == team.facilitator.id)).scalars()
    assert "Kunjungi sekolah" in notifications.render(notice)
    assert supervision.last_supervised([team.facilitator.id, team.other_facilitator.id]) == {
        team.facilitator.id: today_for(team.supervisor)}


def test_the_action_point_is_on_its_case_and_ticked_off_there_once(team, cases):
    session = supervision.record_session(act(team.supervisor), a_session(team, cases))
    mine, theirs = cases
    [point] = supervision.action_points_of_case(mine)
    assert supervision.action_points_of_case(theirs) == []
    assert supervision.action_point_status(point) == DeadlineStatus.UPCOMING
    with pytest.raises(NotFound):
        supervision.complete_action_point(act(team.other_supervisor), point.id)
    with pytest.raises(NotFound):
        supervision.complete_action_point(act(team.facilitator2), point.id)
    supervision.complete_action_point(act(team.facilitator), point.id)
    first = point.done_at
    supervision.complete_action_point(act(team.facilitator), point.id)
    assert point.done_at == first and point.done_by_id == team.facilitator.id
    assert supervision.action_point_status(point) is None
    other = session.action_points[1]
    with pytest.raises(NotFound):  # the supervisor's own point, about no case: not the facilitator's
        supervision.complete_action_point(act(team.facilitator), other.id)
    supervision.complete_action_point(act(team.supervisor), other.id)


def test_an_action_point_is_due_at_the_end_of_its_day_in_the_case_zone(team, cases):
    supervision.record_session(act(team.supervisor), a_session(team, cases))
    [point] = supervision.action_points_of_case(cases[0])
    due = supervision.action_point_due_at(point)
    assert due.hour == 15 and due.minute == 0  # 00:00 WIT the next day, in UTC
    assert supervision.action_point_status(point, due) == DeadlineStatus.OVERDUE
    assert supervision.action_point_status(point, due - timedelta(seconds=1)) == DeadlineStatus.DUE_TODAY


@pytest.mark.parametrize("change, field", [
    ({"facilitator_ids": ["other"]}, "facilitator_ids"),
    ({"case_ids": ["elsewhere"]}, "case_ids"),
    ({"kind": "individual"}, "facilitator_ids"),
    ({"held_on": "future"}, "held_on"),
    ({"action_points": [{"description": "x", "owner_id": "other", "due_on": "today"}]}, "action_points.0.owner_id"),
    ({"action_points": [{"description": "x", "owner_id": "fac", "due_on": "yesterday"}]}, "action_points.0.due_on"),
    ({"action_points": [{"description": "x", "owner_id": "fac", "due_on": "today", "case_id": "elsewhere"}]},
     "action_points.0.case_id"),
])
def test_every_id_and_date_is_checked_and_nothing_is_written(team, make, cases, change, field):
    elsewhere = make.case(team.other_facilitator, to="assessment")
    today = today_for(team.supervisor)
    names = {"other": team.other_facilitator.id, "fac": team.facilitator.id, "elsewhere": elsewhere.id,
             "future": (today + timedelta(days=1)).isoformat(), "today": today.isoformat(),
             "yesterday": (today - timedelta(days=1)).isoformat()}

    def fill(value):
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return names.get(value, value)

    with pytest.raises(ValidationError) as refused:
        supervision.record_session(act(team.supervisor), a_session(team, cases, **fill(change)))
    assert field in refused.value.fields
    assert db.session.execute(select(SupervisionSession)).first() is None
    assert db.session.execute(select(ActionPoint)).first() is None


def test_only_a_supervisor_records_sessions_of_their_own_team(team, cases):
    with pytest.raises(NotAllowed):
        supervision.record_session(act(team.facilitator), a_session(team, cases))
    with pytest.raises(ValidationError) as refused:
        supervision.record_session(act(team.other_supervisor), a_session(team, cases))
    assert "facilitator_ids" in refused.value.fields


def test_the_pages(team, cases, signed_in):
    mine, _theirs = cases
    boss = signed_in(team.supervisor)
    step1 = boss.get(f"/supervision/new?case_id={mine.id}")
    assert step1.status_code == 200 and f'value="{mine.id}" selected' in step1.text
    today = today_for(team.supervisor).isoformat()
    base = {"kind": "individual", "held_on": today, "facilitator_ids": [str(team.facilitator.id)],
            "case_ids": [str(mine.id)]}
    step2 = boss.post("/supervision/new", data=base)
    assert step2.status_code == 200 and 'name="ap-0-owner_id"' in step2.text
    refused = boss.post("/supervision/new", data=base | {"step": "save", "notes": "Catatan",
                                                         "ap-0-description": "Kunjungi", "ap-0-owner_id": "x",
                                                         "ap-0-due_on": today})
    assert refused.status_code == 422 and 'href="#f-ap-0-owner-id"' in refused.text
    saved = boss.post("/supervision/new", data=base | {
        "step": "save", "notes": "Catatan", "ap-0-description": "Kunjungi sekolah",
        "ap-0-owner_id": str(team.facilitator.id), "ap-0-due_on": today, "ap-0-case_id": str(mine.id)})
    assert saved.status_code == 303
    db.session.rollback()
    [point] = supervision.action_points_of_case(mine)
    facilitator = signed_in(team.facilitator)
    page = facilitator.get(f"/cases/{mine.id}").text
    assert "Kunjungi sekolah" in page and f"/action-points/{point.id}/done" in page
    assert facilitator.post(f"/action-points/{point.id}/done").status_code == 303
    db.session.rollback()
    assert db.session.get(ActionPoint, point.id).done_at is not None
    team_page = boss.get("/team").text
    assert "Terakhir disupervisi" in team_page and "belum pernah" in team_page  # fac2 never
    assert signed_in(team.other_supervisor).get(f"/supervision/{point.session_id}").status_code == 404
