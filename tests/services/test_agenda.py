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
from caseflow.models.deadlines import DeadlineStatus, deadline_status, end_of_day
from caseflow.services import agenda, cases, referrals, supervision
from caseflow.services.context import Actor
from caseflow.services.sign_off_policy import notification_text
from caseflow.web.calendar_feed import calendar_bytes
from tests.support.factories import a_step, today_for
from tests.support.queries import statements

WIT = "Asia/Jayapura"


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


def test_the_agenda_has_no_deadline_rule_of_its_own():
    """A day's deadline ends at the next day's 00:00 in the case's zone (models/deadlines.py)."""
    assert not hasattr(agenda, "deadline_end")
    assert end_of_day(date(2026, 12, 2), WIT) == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 3 Dec 00:00 WIT


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
    # Goal target dates within the week (the factory's goal is due in 400 days).
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


# --- supervision action points (issue 16) and the one deadline rule (issue 19) ---------------


def a_point(team, case, due_on: date, owner=None, description="Kunjungi sekolah bersama orang tua"):
    """An action point about `case`, owned by `owner` (the case's facilitator), from a session."""
    owner = owner or team.facilitator
    session = supervision.record_session(act(team.supervisor), {
        "kind": "individual", "held_on": today_for(team.supervisor).isoformat(),
        "facilitator_ids": [owner.id], "case_ids": [case.id], "notes": "Catatan rahasia supervisi",
        "action_points": [{"description": description, "owner_id": owner.id, "due_on": due_on.isoformat(),
                           "case_id": case.id}]})
    return session.action_points[0]


def points(items) -> list:
    return [i for i in items if i.kind == "action_point"]


def test_an_action_point_is_on_its_owners_agenda_by_its_due_day_until_ticked_off(team, case):
    today = today_for(team.facilitator)
    point = a_point(team, case, today + timedelta(days=3))
    mine = agenda.agenda_for(team.facilitator)
    assert [(i.record_id, i.case_id, i.owner_id) for i in points(mine.this_week)] == [
        (point.id, case.id, team.facilitator.id)]
    assert points(mine.this_week)[0].due_at == supervision.action_point_due_at(point)
    # Due today on its day, overdue the day after; nobody else's own agenda has it.
    with simulated_time(utcnow() + timedelta(days=3)):
        assert [i.record_id for i in points(agenda.agenda_for(team.facilitator).due_today)] == [point.id]
    with simulated_time(utcnow() + timedelta(days=4)):
        assert [i.record_id for i in points(agenda.agenda_for(team.facilitator).overdue)] == [point.id]
    for other in (team.facilitator2, team.other_facilitator, team.supervisor, team.other_supervisor):
        assert not points(everything(agenda.agenda_for(other)))
    # On the supervisor's team agenda, under its owner; not on another team's.
    theirs = points(everything(agenda.team_agenda(act(team.supervisor))))
    assert [(i.record_id, i.owner_id) for i in theirs] == [(point.id, team.facilitator.id)]
    assert points(everything(agenda.team_agenda(act(team.supervisor), team.facilitator.id)))
    assert not points(everything(agenda.team_agenda(act(team.other_supervisor))))
    # Ticked off: it leaves the agenda.
    supervision.complete_action_point(act(team.facilitator), point.id)
    assert not points(everything(agenda.agenda_for(team.facilitator)))
    assert not points(everything(agenda.team_agenda(act(team.supervisor))))


def test_the_agenda_reads_every_action_point_in_the_same_number_of_statements(team, make, case):
    today = today_for(team.facilitator)

    def counted() -> tuple[int, int]:
        db.session.expire_all()  # nothing already loaded: every read is counted, both times
        with statements() as seen:
            found = len(points(everything(agenda.agenda_for(team.facilitator))))
        return found, len(seen)

    a_point(team, case, today + timedelta(days=1))
    one, budget = counted()
    other = make.case(team.facilitator, to="intervention")
    for days in (0, 2, 5):
        a_point(team, other, today + timedelta(days=days))
    many, spent = counted()
    assert (one, many) == (1, 4) and spent == budget


def test_reminders_and_the_calendar_feed_cover_action_points_without_their_text(team, case):
    me = act(team.facilitator)
    a_point(team, case, today_for(team.facilitator) + timedelta(days=1), description="Hubungi wali kelas Yohana")
    assert agenda.send_reminders() == 1
    note = db.session.execute(select(Notification).where(Notification.user_id == team.facilitator.id,
                                                         Notification.kind.like("agenda.%"))).scalar_one()
    assert note.data["item"] == "action_point" and note.case_id == case.id
    assert notification_text(note) == f"Due tomorrow: Supervision action point, case {case.number}."
    token = agenda.create_feed(me)
    user, settings = agenda.feed_owner(token)
    body = calendar_bytes(user, agenda.feed_items(user), details=settings.feed_details, base_url="https://x/")
    summaries = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")]
    assert summaries == [f"Tindak lanjut supervisi · {case.number}"]  # in the person's language
    assert "wali kelas" not in body.decode() and "rahasia" not in body.decode()
    assert case.client.full_name not in body.decode()
    agenda.update_settings(me, {"remind_tomorrow": True, "remind_overdue": True, "feed_details": True})
    detailed = calendar_bytes(user, agenda.feed_items(user), details=True, base_url="https://x/").decode()
    assert "wali kelas" in detailed and "rahasia" not in detailed


def test_the_agenda_and_deadline_status_agree_at_the_boundary_instant_in_wit(team, case):
    """One rule (models/deadlines.py): at any instant a case is overdue, due today or
    upcoming on every page alike."""
    assert case.province.timezone == WIT
    due = case.stage_due_at
    assert due.astimezone(ZoneInfo(WIT)).time() == datetime.min.time()  # 00:00 WIT after the last day
    group_of = {DeadlineStatus.OVERDUE: "overdue", DeadlineStatus.DUE_TODAY: "due_today",
                DeadlineStatus.UPCOMING: "this_week"}
    seen = []
    # Half a second before: the old 23:59:59 rule of the agenda already called it overdue.
    for moment in (due - timedelta(seconds=1), due - timedelta(milliseconds=500), due, due + timedelta(seconds=1)):
        status = deadline_status(due, moment, WIT)
        result = agenda.agenda_for(team.facilitator, now=moment)
        groups = [g for g in ("overdue", "due_today", "this_week")
                  if case.id in {i.case_id for i in getattr(result, g) if i.kind == "stage_deadline"}]
        assert groups == [group_of[status]], (moment, status, groups)
        seen.append(status)
    assert seen == [DeadlineStatus.DUE_TODAY, DeadlineStatus.DUE_TODAY, DeadlineStatus.OVERDUE,
                    DeadlineStatus.OVERDUE]
