"""Who holds the ball, and when a deadline in days ends: at 23:59 of its last day in the
case's province zone (WIB, WITA, WIT), overdue from the next instant, never "due today"
and "overdue" at once; a case waiting for a decision is overdue for the supervisor, not
the facilitator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from caseflow.database import simulated_time, utcnow
from caseflow.extensions import db
from caseflow.models import Case, SignOff
from caseflow.models.deadlines import (
    DeadlineStatus,
    days_left,
    deadline_end,
    deadline_status,
    last_day,
)
from caseflow.services import deadlines
from caseflow.services.sign_off_policy import sign_off_due_at

WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"


def test_a_stage_entered_on_23_december_with_14_days_is_due_by_6_january_2359_wit():
    entered = datetime(2026, 12, 23, 9, 30, tzinfo=ZoneInfo(WIT))
    due = deadline_end(entered, 14, WIT)
    assert last_day(due, WIT) == date(2027, 1, 6)
    assert due == datetime(2027, 1, 7, 0, 0, tzinfo=ZoneInfo(WIT)) == datetime(2027, 1, 6, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone, utc_end_hour", [(WIB, 17), (WITA, 16), (WIT, 15)])
def test_the_last_day_ends_at_midnight_of_the_case_zone(zone, utc_end_hour):
    entered = datetime(2026, 12, 23, 12, 0, tzinfo=UTC)  # 19:00 WIB, 20:00 WITA, 21:00 WIT: 23 December everywhere
    due = deadline_end(entered, 14, zone)
    assert due == datetime(2027, 1, 6, utc_end_hour, 0, tzinfo=UTC)
    assert deadline_status(due, due - timedelta(microseconds=1), zone) == DeadlineStatus.DUE_TODAY
    assert deadline_status(due, due, zone) == DeadlineStatus.OVERDUE


def test_the_day_a_deadline_counts_from_is_the_local_day():
    # 16:30 UTC on 23 December is 23:30 WIB (still the 23rd) but 01:30 WIT on the 24th.
    entered = datetime(2026, 12, 23, 16, 30, tzinfo=UTC)
    assert last_day(deadline_end(entered, 14, WIB), WIB) == date(2027, 1, 6)
    assert last_day(deadline_end(entered, 14, WIT), WIT) == date(2027, 1, 7)


@pytest.mark.parametrize("zone", [WIB, WITA, WIT])
def test_never_due_today_and_overdue_at_the_same_moment(zone):
    due = deadline_end(datetime(2026, 12, 23, 3, 0, tzinfo=UTC), 14, zone)
    seen = []
    moment = due - timedelta(days=2)
    while moment < due + timedelta(days=1):
        status = deadline_status(due, moment, zone)
        local = moment.astimezone(ZoneInfo(zone))
        expected = (DeadlineStatus.OVERDUE if moment >= due else DeadlineStatus.DUE_TODAY
                    if local.date() == date(2027, 1, 6) else DeadlineStatus.UPCOMING)
        assert status == expected, (moment, status)
        seen.append(status)
        moment += timedelta(minutes=7)
    assert set(seen) == set(DeadlineStatus)
    # Around the boundary, to the microsecond.
    assert deadline_status(due, due - timedelta(microseconds=1), zone) == DeadlineStatus.DUE_TODAY
    assert days_left(due, due - timedelta(microseconds=1), zone) == 0
    assert deadline_status(due, due, zone) == DeadlineStatus.OVERDUE
    assert days_left(due, due, zone) == -1


def test_a_stage_deadline_follows_the_rule_in_the_case_zone(team, make):
    papua = make.case(team.facilitator)  # Papua: WIT
    assert papua.stage_due_at == deadline_end(papua.stage_entered_at, 7, WIT)
    assert papua.stage_due_at.astimezone(ZoneInfo(WIT)).time().isoformat() == "00:00:00"
    ntt = make.case(team.other_facilitator, to="assessment")  # NTT: WITA
    assert ntt.stage_due_at == deadline_end(ntt.stage_entered_at, 14, WITA)


def test_a_case_waiting_for_a_decision_is_the_supervisors_to_act_on(team, make):
    waiting = make.case(team.facilitator, to="termination_review")
    working = make.case(team.facilitator, to="assessment")
    db.session.refresh(waiting)
    for_facilitator = deadlines.next_action(waiting, team.facilitator)
    assert for_facilitator.holder == "supervisor" and not for_facilitator.mine
    assert for_facilitator.due_at == sign_off_due_at(waiting.pending_sign_off)
    assert deadlines.next_action(waiting, team.supervisor).mine
    mine = deadlines.next_action(working, team.facilitator)
    assert mine.holder == "facilitator" and mine.mine and mine.due_at == working.stage_due_at
    assert not deadlines.next_action(working, team.supervisor).mine
    # A month later both deadlines have passed: the waiting case is overdue for the
    # supervisor only, the other for the facilitator.
    later = utcnow() + timedelta(days=40)
    with simulated_time(later):
        overdue_cases = db.session.execute(deadlines.overdue_with_facilitators(team.supervisor, later)).scalars().all()
        assert [c.id for c in overdue_cases] == [working.id]
        assert deadlines.overdue_counts_by_facilitator(team.supervisor, later) == {team.facilitator.id: 1}
        assert [s.case_id for s in deadlines.decisions_overdue([waiting.pending_sign_off], later)] == [waiting.id]
        assert deadlines.next_action(waiting, team.facilitator, later).status == DeadlineStatus.OVERDUE


def test_the_lists_say_who_must_act_and_by_when(team, make, signed_in):
    waiting = make.case(team.facilitator, to="termination_review")
    working = make.case(team.facilitator, to="assessment")
    long_ago = utcnow() - timedelta(days=20)
    # Both deadlines passed: the stage's and the decision's (and the waiting stage's own).
    db.session.execute(Case.__table__.update().values(stage_due_at=long_ago))
    db.session.execute(SignOff.__table__.update().values(requested_at=long_ago))
    db.session.commit()
    mine = signed_in(team.facilitator).get("/cases").get_data(as_text=True)
    team_page = signed_in(team.supervisor).get("/team/overdue").get_data(as_text=True)
    # The facilitator: their own overdue stage in red; the waiting case late with the supervisor.
    assert mine.count("badge badge-overdue") == 1
    assert f"Terlambat di {team.supervisor.full_name}" in mine and "Giliran Anda" in mine and "23.59 WIT" in mine
    # The supervisor: their late decision first, the facilitator's overdue case below.
    assert "Keputusan Anda yang terlambat" in team_page
    assert team_page.index(waiting.number) < team_page.index(working.number)
    team_figures = signed_in(team.supervisor).get("/team").get_data(as_text=True)
    assert "Keputusan Anda yang terlambat" in team_figures


def test_the_api_says_who_must_act_next(team, make, signed_in):
    waiting = make.case(team.facilitator, to="termination_review")
    body = signed_in(team.facilitator).get(f"/api/v1/cases/{waiting.id}").get_json()
    action = body["next_action"] if "next_action" in body else body["case"]["next_action"]
    assert action["holder"] == "supervisor" and action["mine"] is False
    assert action["status"] == "upcoming" and action["last_day"]
    by_supervisor = signed_in(team.supervisor).get(f"/api/v1/cases/{waiting.id}").get_json()
    assert (by_supervisor.get("next_action") or by_supervisor["case"]["next_action"])["mine"] is True
