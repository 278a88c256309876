"""Referrals (rujukan) as records: sent for a goal with a step on the timeline, answered
(accepted, service given, refused, no answer) with the feedback and the day it came, and
overdue when no answer came by the expected day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from caseflow.database import simulated_time, utcnow
from caseflow.errors import InvalidTransition, NotAllowed, NotFound, ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent, Referral, Step
from caseflow.services import referrals
from caseflow.services.context import Actor


def act(user) -> Actor:
    return Actor(user=user)


def a_referral(**overrides) -> dict:
    data = {"destination_type": "dukcapil", "institution": "Dukcapil Kabupaten Jayawijaya",
            "reason": "Klien belum memiliki KTP dan KK"}
    return data | overrides


@pytest.fixture
def case(team, make):
    return make.case(team.facilitator, to="intervention")


def test_a_referral_is_sent_for_a_goal_with_a_step_on_the_timeline(team, case):
    goal = case.plan.goals[0]
    referral = referrals.send_referral(act(team.facilitator), case.id, a_referral(goal_id=goal.id),
                                       expected_version=case.version)
    today = referrals.today_for(team.facilitator)
    assert referral.status == "sent" and referral.sent_on == today
    assert referral.expected_answer_on == today + timedelta(days=14)  # Dukcapil's usual time
    step = db.session.get(Step, referral.step_id)
    assert step.step_type == "referral" and step.goal_id == goal.id and "Dukcapil" in step.notes
    event = db.session.execute(select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "referral.sent")).scalar_one()
    assert event.after["institution"] == "Dukcapil Kabupaten Jayawijaya" and event.actor_id == team.facilitator.id


def test_ids_in_a_referral_are_checked_against_the_case(team, make, case):
    other = make.case(team.facilitator, to="intervention")
    with pytest.raises(ValidationError) as refused:
        referrals.send_referral(act(team.facilitator), case.id, a_referral(goal_id=other.plan.goals[0].id))
    assert "goal_id" in refused.value.fields
    with pytest.raises(NotFound):
        referrals.send_referral(act(team.facilitator2), case.id, a_referral())
    with pytest.raises(NotAllowed):
        referrals.send_referral(act(team.supervisor), case.id, a_referral())
    assert db.session.execute(select(Referral)).first() is None


def test_bad_dates_are_refused_at_their_fields(team, case):
    today = referrals.today_for(team.facilitator)
    with pytest.raises(ValidationError) as refused:
        referrals.send_referral(act(team.facilitator), case.id, a_referral(
            sent_on=today.isoformat(), expected_answer_on=(today - timedelta(days=1)).isoformat()))
    assert "expected_answer_on" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        referrals.send_referral(act(team.facilitator), case.id, a_referral(
            sent_on=(today + timedelta(days=2)).isoformat()))
    assert "sent_on" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        referrals.send_referral(act(team.facilitator), case.id, a_referral(destination_type="dukun"))
    assert "destination_type" in refused.value.fields


def test_a_closed_case_takes_no_new_referral_but_an_answer_still_counts(team, make):
    me = act(team.facilitator)
    case = make.case(team.facilitator, to="evaluation")
    referral = referrals.send_referral(me, case.id, a_referral(destination_type="school", institution="SD Wamena"))
    make_closed = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
    with pytest.raises(InvalidTransition):
        referrals.send_referral(me, make_closed.id, a_referral())
    answered = referrals.record_answer(me, referral.id, {"status": "accepted", "feedback": "Diterima kelas 3"})
    assert answered.status == "accepted" and answered.answered_on == referrals.today_for(team.facilitator)


def test_the_answer_follows_the_allowed_statuses(team, case):
    me = act(team.facilitator)
    referral = referrals.send_referral(me, case.id, a_referral())
    with pytest.raises(ValidationError) as refused:
        referrals.record_answer(me, referral.id, {"status": "sent"})
    assert "expected_answer_on" in refused.value.fields
    later = referral.expected_answer_on + timedelta(days=7)
    extended = referrals.record_answer(me, referral.id, {"status": "sent", "expected_answer_on": later.isoformat(),
                                                         "feedback": "Petugas minta waktu seminggu"})
    assert extended.status == "sent" and extended.expected_answer_on == later
    referrals.record_answer(me, referral.id, {"status": "no_answer"})
    late = referrals.record_answer(me, referral.id, {"status": "service_given", "feedback": "KTP terbit"})
    assert late.status == "service_given"
    with pytest.raises(InvalidTransition):
        referrals.record_answer(me, referral.id, {"status": "refused"})
    actions = [e.action for e in db.session.execute(select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action.like("referral.%")).order_by(AuditEvent.seq)).scalars()]
    assert actions == ["referral.sent", "referral.answered", "referral.answered", "referral.answered"]


def test_an_answer_cannot_be_dated_before_sending_or_in_the_future(team, case):
    me = act(team.facilitator)
    referral = referrals.send_referral(me, case.id, a_referral())
    for day in (referral.sent_on - timedelta(days=1), referral.sent_on + timedelta(days=3)):
        with pytest.raises(ValidationError) as refused:
            referrals.record_answer(me, referral.id, {"status": "accepted", "answered_on": day.isoformat()})
        assert "answered_on" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        referrals.record_answer(me, referral.id, {"status": "no_answer", "answered_on": referral.sent_on.isoformat()})
    assert "answered_on" in refused.value.fields


def test_only_the_cases_facilitator_records_an_answer(team, make, case):
    referral = referrals.send_referral(act(team.facilitator), case.id, a_referral())
    with pytest.raises(NotAllowed):
        referrals.record_answer(act(team.supervisor), referral.id, {"status": "accepted"})
    for outsider in (team.facilitator2, team.other_facilitator, team.auditor):
        with pytest.raises((NotFound, NotAllowed)):
            referrals.record_answer(act(outsider), referral.id, {"status": "accepted"})
    with pytest.raises(NotFound):
        referrals.record_answer(act(team.facilitator), 987654, {"status": "accepted"})
    db.session.refresh(referral)
    assert referral.status == "sent"


def test_overdue_referrals_are_listed_for_the_facilitator_and_the_supervisor(team, make, case):
    me = act(team.facilitator)
    long_ago = utcnow() - timedelta(days=29)  # within the backdating tolerance of a case opened today
    with simulated_time(long_ago):
        late = referrals.send_referral(me, case.id, a_referral(destination_type="ppa", institution="UPTD PPA"))
    waiting = referrals.send_referral(me, case.id, a_referral())
    answered = referrals.send_referral(me, case.id, a_referral(destination_type="health", institution="Puskesmas"))
    with simulated_time(long_ago):
        old_answered = referrals.send_referral(me, case.id, a_referral(destination_type="bpjs", institution="BPJS"))
    referrals.record_answer(me, answered.id, {"status": "accepted"})
    referrals.record_answer(me, old_answered.id, {"status": "refused", "feedback": "Berkas kurang"})
    for person in (team.facilitator, team.supervisor):
        overdue = db.session.execute(referrals.overdue(person)).scalars().all()
        assert [r.id for r in overdue] == [late.id]
        assert late.is_overdue(referrals.today_for(person)) and not waiting.is_overdue(date.today())
    for outsider in (team.facilitator2, team.other_supervisor, team.manager, team.admin):
        assert db.session.execute(referrals.overdue(outsider)).scalars().all() == []
    listed = db.session.execute(referrals.list_referrals(team.supervisor)).scalars().all()
    assert listed[0].id == late.id and len(listed) == 4
