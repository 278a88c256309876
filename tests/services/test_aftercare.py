"""Aftercare (bimbingan lanjut): a resolved case is followed for the period its workflow
file sets, with planned contacts; steps can be logged during it; a relapse reopens the
case; and none of it changes when the case counted as resolved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow.database import simulated_time, utcnow
from caseflow.errors import InvalidTransition, NotAllowed, NotFound
from caseflow.extensions import db
from caseflow.models import Aftercare, AuditEvent, CaseStageHistory
from caseflow.reports import figures as fg
from caseflow.services import aftercare, cases
from caseflow.services.context import Actor
from tests.support.factories import a_step, rate_all


def act(user) -> Actor:
    return Actor(user=user)


@pytest.fixture
def resolved(team, make):
    """A case resolved 200 days ago (times below are relative to that resolution)."""
    start = utcnow() - timedelta(days=200)
    with simulated_time(start):
        case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    RESOLVED_AT[case.id] = case.stage_entered_at
    return case


RESOLVED_AT: dict[int, object] = {}


def at(case, days: float):
    """Run as if `days` after the case's (first) resolution."""
    return simulated_time(RESOLVED_AT[case.id] + timedelta(days=days))


def period_of(case) -> Aftercare:
    db.session.expire_all()
    return db.session.execute(select(Aftercare).where(Aftercare.case_id == case.id)).scalar_one()


def test_a_resolution_starts_aftercare_with_the_contacts_of_the_workflow_file(resolved):
    period = period_of(resolved)
    resolved_at = resolved.stage_entered_at
    assert period.started_at == resolved_at
    assert period.planned_end_at == period.ended_at == resolved_at + timedelta(days=180)
    assert [c.due_at - resolved_at for c in period.contacts] == [timedelta(days=d) for d in (30, 90, 150)]
    assert all(c.closes_at - c.opens_at == timedelta(days=28) for c in period.contacts)
    assert period.plan == "Kunjungan bulanan"  # the termination request's aftercare plan
    started = db.session.execute(select(AuditEvent).where(
        AuditEvent.case_id == resolved.id, AuditEvent.action == "aftercare.started")).scalar_one()
    assert len(started.after["contacts"]) == 3


def test_a_case_closed_unresolved_has_no_aftercare(team, make):
    case = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
    assert Aftercare.latest_for(case.id) is None
    with pytest.raises(InvalidTransition, match="closed"):
        cases.log_step(act(team.facilitator), case.id, a_step())


def test_steps_during_aftercare_make_the_contact_whose_window_they_fall_in(team, resolved):
    me = act(team.facilitator)
    with at(resolved, 10):  # before the first window: a step, but no contact
        cases.log_step(me, resolved.id, a_step(notes="Telepon singkat"))
    with at(resolved, 33):
        step = aftercare.log_follow_up(me, resolved.id, a_step(step_type="home_visit", notes="Kunjungan 1"))
    with at(resolved, 34):  # the first contact is made already: this one makes nothing more
        cases.log_step(me, resolved.id, a_step(notes="Lagi"))
    period = period_of(resolved)
    first, second, third = period.contacts
    assert first.step_id == step.id and first.made_at == step.occurred_at
    assert second.made_at is None and third.made_at is None
    with at(resolved, 110):
        status = aftercare.status_of(resolved)
    assert [c["status"] for c in status["contacts"]] == ["made", "missed", "planned"]
    assert status["state"] == "running" and not status["as_planned"]


def test_aftercare_changes_nothing_about_when_the_case_counted_as_resolved(team, resolved):
    before = (resolved.state, resolved.closed_at, resolved.stage_entered_at)
    history = [(h.stage, h.entered_at, h.left_at) for h in db.session.execute(
        select(CaseStageHistory).where(CaseStageHistory.case_id == resolved.id)).scalars()]
    day = resolved.stage_entered_at.date()
    counted = fg.total("resolved", fg.Filters(start=day, end=day))
    for days in (31, 91, 151):
        with at(resolved, days):
            cases.log_step(act(team.facilitator), resolved.id, a_step())
    db.session.expire_all()
    case = cases.get_case(team.facilitator, resolved.id)
    assert (case.state, case.closed_at, case.stage_entered_at) == before
    assert [(h.stage, h.entered_at, h.left_at) for h in db.session.execute(
        select(CaseStageHistory).where(CaseStageHistory.case_id == resolved.id)).scalars()] == history
    assert fg.total("resolved", fg.Filters(start=day, end=day)) == counted == 1
    assert aftercare.status_of(case)["as_planned"]


def test_after_the_period_the_case_refuses_steps_again(team, resolved):
    with at(resolved, 181), pytest.raises(InvalidTransition, match="aftercare is over"):
        cases.log_step(act(team.facilitator), resolved.id, a_step())
    with at(resolved, 181):
        assert aftercare.status_of(resolved)["state"] == "completed"


def test_a_relapse_reopens_the_case_and_ends_aftercare(team, resolved):
    with at(resolved, 40):
        cases.log_step(act(team.facilitator), resolved.id, a_step())
    with at(resolved, 60):
        cases.fire_trigger(act(team.supervisor), resolved.id, "reopen", {"reason": "Klien kembali putus sekolah"})
    period = period_of(resolved)
    assert period.outcome == "relapsed"
    assert period.ended_at == RESOLVED_AT[resolved.id] + timedelta(days=60)
    with at(resolved, 70):
        status = aftercare.status_of(cases.get_case(team.facilitator, resolved.id))
        # The case is open again: steps are ordinary work, not aftercare.
        cases.log_step(act(team.facilitator), resolved.id, a_step())
    assert status["state"] == "relapsed"
    assert [c["status"] for c in status["contacts"]] == ["made", "cancelled", "cancelled"]
    assert [e.action for e in db.session.execute(select(AuditEvent).where(
        AuditEvent.case_id == resolved.id, AuditEvent.action.like("aftercare.%")).order_by(AuditEvent.seq)
    ).scalars()] == ["aftercare.started", "aftercare.contact_made", "aftercare.ended"]


def test_resolved_again_after_a_relapse_starts_a_new_period(team, resolved):
    me = act(team.facilitator)
    with at(resolved, 60):
        cases.fire_trigger(act(team.supervisor), resolved.id, "reopen", {"reason": "Kambuh"})
        for trigger in ("complete_assessment", "start_intervention"):
            cases.fire_trigger(me, resolved.id, trigger)
        cases.log_step(me, resolved.id, a_step())
        cases.fire_trigger(me, resolved.id, "start_evaluation")
        cases.save_evaluation(me, resolved.id, rate_all(resolved, "achieved"))
        cases.save_termination_request(me, resolved.id, {"outcome": "resolved", "aftercare_plan": "Lagi"})
        cases.fire_trigger(me, resolved.id, "request_termination")
        db.session.refresh(resolved)
        cases.decide_sign_off(act(team.supervisor), resolved.pending_sign_off.id, {"decision": "approve"})
    periods = db.session.execute(select(Aftercare).where(Aftercare.case_id == resolved.id)
                                 .order_by(Aftercare.started_at)).scalars().all()
    assert [p.outcome for p in periods] == ["relapsed", None]
    assert periods[1].plan == "Lagi" and periods[1].started_at == RESOLVED_AT[resolved.id] + timedelta(days=60)


def test_follow_ups_are_the_facilitators_and_only_in_aftercare(team, make, resolved):
    with at(resolved, 30):
        with pytest.raises(NotAllowed):
            aftercare.log_follow_up(act(team.supervisor), resolved.id, a_step())
        with pytest.raises(NotFound):
            aftercare.log_follow_up(act(team.facilitator2), resolved.id, a_step())
    open_case = make.case(team.facilitator)
    with pytest.raises(InvalidTransition, match="not in aftercare"):
        aftercare.log_follow_up(act(team.facilitator), open_case.id, a_step())


def test_a_case_in_aftercare_can_be_reassigned_within_the_team(team, resolved):
    with at(resolved, 20):
        cases.reassign_case(act(team.supervisor), resolved.id, {"facilitator_id": team.facilitator2.id,
                                                                "reason": "Cuti panjang"})
        step = cases.log_step(act(team.facilitator2), resolved.id, a_step())
    assert step.recorded_by_id == team.facilitator2.id
