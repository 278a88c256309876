"""The agenda (agenda kerja): one list per person of what is due today, this week and
overdue, gathered from the work's own records; planned visits made done by the step
logged on their day; reminders once per item; the private calendar feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select

from caseflow.database import simulated_time, utcnow
from caseflow.errors import NotAllowed, NotFound, ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent, Notification, PlannedVisit
from caseflow.services import agenda, cases, referrals
from caseflow.services.context import Actor
from caseflow.services.sign_off_policy import notification_text
from caseflow.web.calendar_feed import calendar_bytes
from tests.support.factories import a_step, today_for


def act(user) -> Actor:
    return Actor(user=user)


def kinds(items) -> list[str]:
    return sorted(i.kind for i in items)


def everything(result: agenda.Agenda) -> list:
    return result.overdue + result.due_today + result.this_week


def local_noon(user, day: date) -> str:
    return datetime(day.year, day.month, day.day, 12).isoformat()


@pytest.fixture
def case(team, make):
    return make.case(team.facilitator, to="intervention")


def test_deadline_ends_at_the_last_minute_of_the_day_in_the_cases_zone():
    end = agenda.deadline_end(date(2026, 12, 2), "Asia/Jayapura")
    assert end == datetime(2026, 12, 2, 14, 59, 59, tzinfo=UTC)  # 23:59:59 WIT
    assert agenda.deadline_end(date(2026, 12, 2), "Asia/Jakarta") == datetime(2026, 12, 2, 16, 59, 59, tzinfo=UTC)


def test_a_planned_visit_is_on_the_agenda_until_the_step_of_its_day_is_logged(team, case):
    me = act(team.facilitator)
    today = today_for(team.facilitator)
    in_two_days = today + timedelta(days=2)
    visit = agenda.plan_visit(me, case.id, {"step_type": "home_visit", "planned_at": local_noon(
        team.facilitator, in_two_days), "place": "Wamena", "purpose": "Cek sekolah"})
    mine = agenda.agenda_for(team.facilitator)
    planned = [i for i in mine.this_week if i.kind == "planned_visit"]
    assert [i.record_id for i in planned] == [visit.id]
    assert planned[0].day == in_two_days and not planned[0].missed
    # A step of another type that day, or of its type another day, leaves it planned.
    with simulated_time(utcnow() + timedelta(days=2)):
        cases.log_step(me, case.id, a_step(step_type="phone_call"))
    db.session.refresh(visit)
    assert visit.status == "planned"
    with simulated_time(datetime.combine(in_two_days, datetime.min.time(), ZoneInfo(team.facilitator.timezone))
                        + timedelta(hours=17)):
        step = cases.log_step(me, case.id, a_step(step_type="home_visit",
                                                  occurred_at=local_noon(team.facilitator, in_two_days)))
    db.session.refresh(visit)
    assert (visit.status, visit.step_id) == ("done", step.id)
    assert "planned_visit" not in kinds(everything(agenda.agenda_for(team.facilitator)))
    actions = db.session.execute(select(AuditEvent.action).where(
        AuditEvent.case_id == case.id, AuditEvent.action.like("visit.%")).order_by(AuditEvent.seq)).scalars().all()
    assert actions == ["visit.planned", "visit.done"]


def test_a_missed_visit_stays_on_the_agenda_as_overdue_until_cancelled(team, case):
    me = act(team.facilitator)
    visit = agenda.plan_visit(me, case.id, {"step_type": "home_visit",
                                            "planned_at": local_noon(team.facilitator, today_for(team.facilitator))})
    with simulated_time(utcnow() + timedelta(days=3)):
        later = agenda.agenda_for(team.facilitator)
        missed = [i for i in later.overdue if i.kind == "planned_visit"]
        assert [i.record_id for i in missed] == [visit.id] and missed[0].missed
        with pytest.raises(ValidationError) as refused:
            agenda.cancel_visit(me, visit.id, {"reason": ""})
        assert "reason" in refused.value.fields
        agenda.cancel_visit(me, visit.id, {"reason": "Klien pindah sementara"})
        assert "planned_visit" not in kinds(everything(agenda.agenda_for(team.facilitator)))


def test_a_visit_is_planned_only_by_the_cases_facilitator_and_not_on_a_past_day(team, case):
    data = {"step_type": "home_visit", "planned_at": local_noon(team.facilitator, today_for(team.facilitator))}
    with pytest.raises(NotAllowed):
        agenda.plan_visit(act(team.supervisor), case.id, data)
    for outsider in (team.facilitator2, team.other_facilitator, team.auditor):
        with pytest.raises((NotFound, NotAllowed)):
            agenda.plan_visit(act(outsider), case.id, data)
    yesterday = today_for(team.facilitator) - timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        agenda.plan_visit(act(team.facilitator), case.id, data | {"planned_at": local_noon(team.facilitator,
                                                                                          yesterday)})
    assert "planned_at" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        agenda.plan_visit(act(team.facilitator), case.id, data | {"step_type": "referral"})
    assert "step_type" in refused.value.fields
    visit = agenda.plan_visit(act(team.facilitator), case.id, data)
    for outsider in (team.facilitator2, team.other_facilitator):
        with pytest.raises(NotFound):
            agenda.cancel_visit(act(outsider), visit.id, {"reason": "x"})
    with pytest.raises(NotAllowed):
        agenda.cancel_visit(act(team.supervisor), visit.id, {"reason": "x"})
    assert db.session.execute(select(func.count()).select_from(PlannedVisit)).scalar_one() == 1


def test_the_agenda_gathers_every_source_and_whoever_acts_next_owns_the_deadline(team, make, case):
    me = act(team.facilitator)
    # A stage deadline (the case entered intervention today: due in 90 days, not this week)…
    assert "stage_deadline" not in kinds(everything(agenda.agenda_for(team.facilitator)))
    # …a new case's is in 7 days: next week's, until a day has passed (a week is today and six more).
    fresh = make.case(team.facilitator)
    assert "stage_deadline" not in kinds(everything(agenda.agenda_for(team.facilitator)))
    with simulated_time(utcnow() + timedelta(days=1)):
        stage = [i for i in agenda.agenda_for(team.facilitator).this_week if i.kind == "stage_deadline"]
    assert [i.case_id for i in stage] == [fresh.id]
    # A referral whose answer is due, and one overdue.
    referral = referrals.send_referral(me, case.id, {"destination_type": "ppa", "institution": "UPTD PPA",
                                                     "reason": "Pendampingan hukum"})
    with simulated_time(utcnow() + timedelta(days=5)):
        later = agenda.agenda_for(team.facilitator)
        assert [i.record_id for i in later.overdue if i.kind == "referral_answer"] == [referral.id]
    referrals.record_answer(me, referral.id, {"status": "accepted", "feedback": "Diterima"})
    assert "referral_answer" not in kinds(everything(agenda.agenda_for(team.facilitator)))
    # Goal target dates within the week (the factory's goal is due in January 2027).
    goal = case.plan.goals[0]
    with simulated_time(datetime.combine(goal.target_date - timedelta(days=2), datetime.min.time(), UTC)):
        goals = [i for i in everything(agenda.agenda_for(team.facilitator)) if i.kind == "goal_target"]
        assert [i.record_id for i in goals] == [goal.id]
    # A case waiting for its sign-off: the supervisor's deadline, not the facilitator's.
    waiting = make.case(team.facilitator, to="termination_review")
    mine = everything(agenda.agenda_for(team.facilitator))
    assert waiting.id not in {i.case_id for i in mine}
    theirs = [i for i in everything(agenda.agenda_for(team.supervisor)) if i.kind == "sign_off"]
    assert [i.case_id for i in theirs] == [waiting.id]
    # Nobody else's agenda shows any of it.
    for other in (team.facilitator2, team.other_facilitator, team.other_supervisor):
        assert not {case.id, fresh.id, waiting.id} & {i.case_id for i in everything(agenda.agenda_for(other))}
    for role_without in (team.auditor, team.manager, team.admin):
        with pytest.raises(NotAllowed):
            agenda.agenda_for(role_without)


def test_aftercare_contacts_are_on_the_agenda_until_made(team, make):
    start = utcnow() - timedelta(days=25)
    with simulated_time(start):
        resolved = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    contacts = [i for i in everything(agenda.agenda_for(team.facilitator)) if i.kind == "aftercare_contact"]
    assert [i.details["number"] for i in contacts] == [1]  # due on day 30: this week
    cases.log_step(act(team.facilitator), resolved.id, a_step())
    assert "aftercare_contact" not in kinds(everything(agenda.agenda_for(team.facilitator)))


def test_the_supervisor_sees_the_teams_agenda_and_no_other_team(team, make, case):
    agenda.plan_visit(act(team.facilitator), case.id, {"step_type": "home_visit", "planned_at": local_noon(
        team.facilitator, today_for(team.facilitator) + timedelta(days=1))})
    whole = everything(agenda.team_agenda(act(team.supervisor)))
    assert {i.owner_id for i in whole} == {team.facilitator.id}
    one = everything(agenda.team_agenda(act(team.supervisor), team.facilitator.id))
    assert [i.kind for i in one] == ["planned_visit"]
    with pytest.raises(NotFound):
        agenda.team_agenda(act(team.supervisor), team.other_facilitator.id)
    with pytest.raises(NotFound):
        agenda.team_agenda(act(team.other_supervisor), team.facilitator.id)
    with pytest.raises(NotAllowed):
        agenda.team_agenda(act(team.facilitator))


def test_reminders_are_sent_once_per_item_and_follow_the_persons_choice(team, make, case):
    me = act(team.facilitator)
    tomorrow = today_for(team.facilitator) + timedelta(days=1)
    agenda.plan_visit(me, case.id, {"step_type": "home_visit", "planned_at": local_noon(team.facilitator, tomorrow)})
    assert agenda.send_reminders() == 1
    assert agenda.send_reminders() == 0  # once only
    notes = db.session.execute(select(Notification).where(Notification.user_id == team.facilitator.id)).scalars().all()
    assert [(n.kind, n.data["item"]) for n in notes] == [("agenda.tomorrow", "planned_visit")]
    assert notification_text(notes[0]) == f"Due tomorrow: Planned visit, case {case.number}."
    with simulated_time(utcnow() + timedelta(days=3)):
        assert agenda.send_reminders() == 1  # the missed visit, now overdue
    agenda.update_settings(me, {"remind_tomorrow": False, "remind_overdue": False, "feed_details": False})
    agenda.plan_visit(me, case.id, {"step_type": "phone_call", "planned_at": local_noon(team.facilitator, tomorrow)})
    assert agenda.send_reminders() == 0


def test_the_calendar_feed_says_only_the_type_and_case_number_unless_the_user_opts_in(team, case):
    me = act(team.facilitator)
    agenda.plan_visit(me, case.id, {"step_type": "home_visit", "place": "Rumah klien di Wamena",
                                    "purpose": "Cek sekolah", "planned_at": local_noon(
                                        team.facilitator, today_for(team.facilitator) + timedelta(days=1))})
    token = agenda.create_feed(me)
    user, settings = agenda.feed_owner(token)
    assert user.id == team.facilitator.id
    body = calendar_bytes(user, agenda.feed_items(user), details=settings.feed_details, base_url="https://x/")
    parsed = icalendar.Calendar.from_ical(body)
    events = [c for c in parsed.walk("VEVENT")]
    assert events and all(case.number in str(e["SUMMARY"]) for e in events)
    text = body.decode()
    assert case.client.full_name not in text and "Wamena" not in text
    agenda.update_settings(me, {"remind_tomorrow": True, "remind_overdue": True, "feed_details": True})
    _user, settings = agenda.feed_owner(token)
    detailed = calendar_bytes(user, agenda.feed_items(user), details=settings.feed_details, base_url="https://x/")
    assert "Wamena" in detailed.decode() and case.client.full_name not in detailed.decode()
    # A new address replaces the old; revoking stops it.
    second = agenda.create_feed(me)
    assert agenda.feed_owner(token) is None and agenda.feed_owner(second) is not None
    agenda.revoke_feed(me)
    assert agenda.feed_owner(second) is None
    actions = db.session.execute(select(AuditEvent.action).where(
        AuditEvent.actor_id == team.facilitator.id, AuditEvent.action.like("agenda.%"))
        .order_by(AuditEvent.id)).scalars().all()
    assert actions == ["agenda.feed_created", "agenda.settings_changed", "agenda.feed_created",
                       "agenda.feed_revoked"]
    with pytest.raises(NotAllowed):
        agenda.create_feed(act(team.auditor))
