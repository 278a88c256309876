"""The agenda (agenda kerja): what one person must do today, this week, and what is
overdue, gathered from where the work lives — stage deadlines, planned visits, goal
target dates, aftercare contacts, referral answers due, supervision action points and (for
supervisors) sign-off deadlines — never copied. Whoever must act next owns the deadline: a case waiting for a
sign-off is on the supervisor's agenda, not its facilitator's. An item disappears when its
work is done (the stage left, the step logged, the contact made, the answer recorded, the
action point ticked off). Every deadline follows models/deadlines.py: due by the end of its
last day, overdue from the first instant after it.

Planned visits (kunjungan terencana) are the one thing kept here: the case's facilitator
plans a visit or contact (day, time, place, purpose); a step of the same type logged on
the case on that day makes it done; a day that ends without one leaves it missed (still
on the agenda, until it is done late or cancelled with a reason).

Reminders (`send_reminders`) are a plain function the task queue calls periodically; the
private calendar feed (`calendar_feed`) shows the same items in a phone's calendar.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import selectinload

from ..database import utcnow, write_transaction
from ..errors import NotAllowed, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import (
    ActionPoint,
    Aftercare,
    AftercareContact,
    Case,
    Evaluation,
    Goal,
    GoalRating,
    InterventionPlan,
    Notification,
    Referral,
    Role,
    SignOff,
    Step,
    User,
)
from ..models.agenda import (
    CANCELLED,
    DONE,
    PLANNED,
    AgendaReminder,
    AgendaSettings,
    PlannedVisit,
    waiting_for_step,
)
from ..models.deadlines import end_of_day, last_day
from ..models.referral import SENT
from ..schemas import load
from ..schemas.agenda import AgendaSettingsSchema, CancelVisitSchema, PlanVisitSchema
from ..signals import step_logged
from . import access
from . import cases as case_services
from .audit import append_case_event, append_event, user_chain
from .context import Actor
from .locking import lock_case
from .runtime import engine, engines
from .sign_off_policy import sign_off_due_at
from .supervision import action_point_due_at

KINDS = ("stage_deadline", "planned_visit", "goal_target", "aftercare_contact", "referral_answer", "action_point",
         "sign_off")
WEEK_DAYS = 7
# The tablet keeps this many days ahead of the agenda with the cases (offline).
OFFLINE_DAYS = 14
FEED_DAYS = 60


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def today_for(user: User, now: datetime | None = None) -> date:
    return local_day(now or utcnow(), user.timezone)


@dataclass(frozen=True)
class AgendaItem:
    """One thing to do: of `kind`, on a case, due on `day` (the case's calendar) and
    overdue after `due_at`. `record_id` names the record the work is done on (the visit,
    goal, contact, referral or sign-off; the case for a stage deadline)."""

    key: str
    kind: str
    owner_id: int
    case_id: int
    case_number: str
    day: date
    due_at: datetime  # the first instant after `day` (models/deadlines.py)
    zone: str
    record_id: int
    starts_at: datetime | None = None  # a planned visit's time
    missed: bool = False
    details: dict[str, Any] = field(default_factory=dict)  # place, purpose, institution…
    client_name: str = ""  # shown on the pages only, never in the calendar feed

    def is_overdue(self, now: datetime) -> bool:
        """The project's rule (models/deadlines.py): overdue once `now` reaches `due_at`."""
        return now >= self.due_at


@dataclass
class Agenda:
    """One person's (or a team's) items in three groups, each by due time."""

    today: date
    overdue: list[AgendaItem]
    due_today: list[AgendaItem]
    this_week: list[AgendaItem]

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.due_today) + len(self.this_week)


# --- gathering ---------------------------------------------------------------------------


def _zone(case: Case) -> str:
    return case.timezone


def _item(kind: str, case: Case, record_id: int, day: date, owner_id: int, **extra: Any) -> AgendaItem:
    zone = _zone(case)
    return AgendaItem(key=f"{kind}:{record_id}", kind=kind, owner_id=owner_id, case_id=case.id,
                      case_number=case.number, day=day, due_at=extra.pop("due_at", None) or end_of_day(day, zone),
                      zone=zone, record_id=record_id, client_name=case.client.full_name if case.client else "",
                      **extra)


def _cases_of(owners: list[int]) -> Any:
    """The cases held by `owners` (user ids): the case's facilitator now. A list of ids,
    not a subquery: the databases then start from the cases' facilitator index."""
    return Case.facilitator_id.in_(owners)


def _open_stages() -> list[str]:
    """The stages of every workflow that are not final: with the facilitator, they make
    the databases read a facilitator's open cases from ix_cases_facilitator_state (a test
    of closed_at would make SQLite read every open case of the programme)."""
    return sorted({name for e in engines().values() for name, s in e.definition.states.items() if not s.final})


def _stage_deadlines(owners, until: datetime) -> Iterable[AgendaItem]:
    """Open cases whose stage deadline falls by `until`, unless a sign-off is awaited
    (then the decider owns the deadline)."""
    waiting = exists().where(SignOff.case_id == Case.id, SignOff.decision.is_(None))
    rows = db.session.execute(
        select(Case).where(_cases_of(owners), Case.state.in_(_open_stages()), Case.stage_due_at.is_not(None),
                           Case.stage_due_at < until + timedelta(days=1), ~waiting)
        .options(selectinload(Case.client), selectinload(Case.province))
    ).scalars()
    for case in rows:
        if engine(case.workflow).is_final(case.state):
            continue
        # A stage deadline is stored as the first instant after its last day (models/deadlines.py).
        day = last_day(case.stage_due_at, _zone(case))
        yield _item("stage_deadline", case, case.id, day, case.facilitator_id, due_at=case.stage_due_at,
                    details={"state": case.state, "workflow": case.workflow})


def _planned_visits(owners, until: datetime) -> Iterable[AgendaItem]:
    rows = db.session.execute(
        select(PlannedVisit).join(Case, Case.id == PlannedVisit.case_id)
        .where(_cases_of(owners), PlannedVisit.status == PLANNED,
                                   PlannedVisit.planned_at < until + timedelta(days=1))
        .options(selectinload(PlannedVisit.case).selectinload(Case.client),
                 selectinload(PlannedVisit.case).selectinload(Case.province))
    ).scalars()
    now = utcnow()
    for visit in rows:
        day = local_day(visit.planned_at, visit.timezone)
        end = end_of_day(day, visit.timezone)
        yield _item("planned_visit", visit.case, visit.id, day, visit.case.facilitator_id, due_at=end,
                    starts_at=visit.planned_at, missed=now >= end,
                    details={"step_type": visit.step_type, "place": visit.place, "purpose": visit.purpose})


def _goal_targets(owners, until: datetime) -> Iterable[AgendaItem]:
    """Goals of open cases' plans with a target date by `until`, until rated achieved."""
    # Through the case's evaluation: goal_ratings is indexed by (evaluation, goal), not by goal.
    achieved = exists().where(Evaluation.case_id == Case.id, GoalRating.evaluation_id == Evaluation.id,
                              GoalRating.goal_id == Goal.id, GoalRating.rating == "achieved")
    rows = db.session.execute(
        select(Goal, Case).join(InterventionPlan, InterventionPlan.id == Goal.plan_id)
        .join(Case, Case.id == InterventionPlan.case_id)
        .where(_cases_of(owners), Case.state.in_(_open_stages()), Goal.archived.is_(False),
               Goal.target_date.is_not(None), Goal.target_date <= until.date() + timedelta(days=1), ~achieved)
        .options(selectinload(Case.client), selectinload(Case.province))
    ).all()
    for goal, case in rows:
        yield _item("goal_target", case, goal.id, goal.target_date, case.facilitator_id,
                    details={"goal": goal.description})


def _aftercare_contacts(owners, until: datetime) -> Iterable[AgendaItem]:
    """Planned aftercare contacts not made whose window is still open, due by `until`."""
    now = utcnow()
    rows = db.session.execute(
        select(AftercareContact, Case).join(Aftercare, Aftercare.id == AftercareContact.aftercare_id)
        .join(Case, Case.id == Aftercare.case_id)
        .where(_cases_of(owners), Aftercare.outcome.is_(None), Aftercare.ended_at > now,
               AftercareContact.made_at.is_(None), AftercareContact.closes_at > now,
               AftercareContact.due_at < until + timedelta(days=1))
        .options(selectinload(Case.client), selectinload(Case.province))
    ).all()
    for contact, case in rows:
        yield _item("aftercare_contact", case, contact.id, local_day(contact.due_at, _zone(case)),
                    case.facilitator_id, details={"number": contact.number, "closes_at": contact.closes_at})


def _referral_answers(owners, until: datetime) -> Iterable[AgendaItem]:
    rows = db.session.execute(
        select(Referral, Case).join(Case, Case.id == Referral.case_id)
        .where(_cases_of(owners), Referral.status == SENT,
               Referral.expected_answer_on <= until.date() + timedelta(days=1))
        .options(selectinload(Case.client), selectinload(Case.province))
    ).all()
    for referral, case in rows:
        yield _item("referral_answer", case, referral.id, referral.expected_answer_on, case.facilitator_id,
                    details={"institution": referral.institution, "destination_type": referral.destination_type})


def _action_points(owners, until: datetime) -> Iterable[AgendaItem]:
    """Supervision action points about a case, owned by `owners` and not ticked off, due by
    `until`: one query for all of them (with their cases' clients and provinces)."""
    rows = db.session.execute(
        select(ActionPoint, Case).join(Case, Case.id == ActionPoint.case_id)
        .where(ActionPoint.owner_id.in_(owners), ActionPoint.done_at.is_(None),
               ActionPoint.due_on <= until.date() + timedelta(days=1))
        .options(selectinload(Case.client), selectinload(Case.province))
    ).all()
    for point, case in rows:
        yield _item("action_point", case, point.id, point.due_on, point.owner_id,
                    due_at=action_point_due_at(point), details={"description": point.description})


def _sign_offs(supervisor: User, until: datetime) -> Iterable[AgendaItem]:
    """The sign-offs this supervisor may decide, by the deadline of their policy (or the
    stage's deadline when the workflow sets none)."""
    pending = case_services.pending_sign_offs_for(supervisor)
    # Their cases, provinces and clients in three queries (a sign-off then finds its case
    # in the session instead of loading it, and its province, one by one).
    db.session.execute(select(Case).where(Case.id.in_({s.case_id for s in pending}))
                       .options(selectinload(Case.province), selectinload(Case.client))).scalars().all()
    for sign_off in pending:
        case = sign_off.case
        due = sign_off_due_at(sign_off) or case.stage_due_at
        if due is None or due >= until + timedelta(days=1):
            continue
        day = last_day(due, _zone(case))
        yield _item("sign_off", case, sign_off.id, day, supervisor.id, due_at=due,
                    details={"trigger": sign_off.requested_trigger})


def gather(user: User, owners, until: datetime, *, sign_offs: bool) -> list[AgendaItem]:
    """Every item of the facilitators `owners` (a SELECT of user ids) due by `until`
    (and every overdue one), plus the sign-offs `user` may decide."""
    owners = list(db.session.execute(owners).scalars())
    items: list[AgendaItem] = []
    for source in (_stage_deadlines, _planned_visits, _goal_targets, _aftercare_contacts, _referral_answers,
                   _action_points):
        items.extend(source(owners, until))
    if sign_offs and user.role == Role.SUPERVISOR:
        items.extend(_sign_offs(user, until))
    return [i for i in items if i.due_at < until + timedelta(days=1) and i.day <= until.date()]


def _grouped(items: list[AgendaItem], today: date, now: datetime) -> Agenda:
    items = sorted(items, key=lambda i: (i.due_at if i.starts_at is None else i.starts_at, i.key))
    overdue = [i for i in items if i.is_overdue(now)]
    rest = [i for i in items if not i.is_overdue(now)]
    return Agenda(today=today, overdue=overdue, due_today=[i for i in rest if i.day <= today],
                  this_week=[i for i in rest if i.day > today])


def _horizon(user: User, days: int, now: datetime) -> datetime:
    """The last instant of the viewer's day `days` - 1 days from today (a week: today and
    six more): just before that day's end (models/deadlines.end_of_day)."""
    return end_of_day(today_for(user, now) + timedelta(days=days - 1), user.timezone) - timedelta(microseconds=1)


def _own_ids(user: User):
    return select(User.id).where(User.id == user.id)


def agenda_for(user: User, *, days: int = WEEK_DAYS, now: datetime | None = None) -> Agenda:
    """The viewer's own agenda: a facilitator's work on their cases; a supervisor's
    sign-offs (and the work of cases they hold themselves)."""
    if user.role not in (Role.FACILITATOR, Role.SUPERVISOR) or not user.is_active:
        raise NotAllowed(_l("Only facilitators and supervisors have an agenda."))
    now = now or utcnow()
    items = gather(user, _own_ids(user), _horizon(user, days, now), sign_offs=True)
    return _grouped(items, today_for(user, now), now)


def team_members(supervisor: User) -> list[User]:
    """The facilitators whose agenda a supervisor sees: their team and the teams they act
    for today."""
    return list(db.session.execute(
        select(User).where(User.id.in_(access.supervised_ids(supervisor)), User.active.is_(True))
        .order_by(User.full_name, User.id)).scalars())


def team_agenda(actor: Actor, facilitator_id: int | None = None, *, now: datetime | None = None) -> Agenda:
    """A supervisor's view of their team's agenda (or of one member's): another team's
    facilitator looks like nobody."""
    user = actor.user
    if user is None or user.role != Role.SUPERVISOR:
        raise NotAllowed(_l("Only supervisors see a team's agenda."))
    now = now or utcnow()
    owners = select(User.id).where(User.id.in_(access.supervised_ids(user)))
    if facilitator_id is not None:
        if facilitator_id not in {m.id for m in team_members(user)}:
            raise NotFound(_l("No such facilitator in your team."), fields={"facilitator": [
                _l("No such facilitator in your team.")]})
        owners = select(User.id).where(User.id == facilitator_id)
    items = gather(user, owners, _horizon(user, WEEK_DAYS, now), sign_offs=facilitator_id is None)
    return _grouped(items, today_for(user, now), now)


# --- planned visits ------------------------------------------------------------------------


def _visit_dict(visit: PlannedVisit) -> dict[str, Any]:
    return {name: getattr(visit, name) for name in (
        "id", "step_type", "planned_at", "timezone", "place", "purpose", "status", "step_id", "done_at",
        "cancel_reason")}


def plan_visit(actor: Actor, case_id: int, data: dict) -> PlannedVisit:
    """The case's facilitator plans a visit or contact (its type, day and time in their
    zone, place, purpose), on a case that takes work; not on a day already over."""
    values = load(PlanVisitSchema(), data)
    with write_transaction():
        case = lock_case(case_id)
        case_services._authorize(actor, case, (Role.FACILITATOR,), _l("plan a visit"), None)
        case_services._require_in_work(case)
        zone = actor.user.timezone
        planned = values["planned_at"]
        if planned.tzinfo is None:
            planned = planned.replace(tzinfo=ZoneInfo(zone))
        if local_day(planned, zone) < today_for(actor.user):
            raise ValidationError(_l("Some fields need attention."),
                                  fields={"planned_at": [_l("This day is over: log the step instead.")]})
        now = utcnow()
        visit = PlannedVisit(case_id=case.id, facilitator_id=actor.user_id, step_type=values["step_type"],
                             planned_at=planned.astimezone(UTC), timezone=zone, place=values.get("place") or "",
                             purpose=values.get("purpose") or "", status=PLANNED, created_by_id=actor.user_id,
                             created_at=now)
        db.session.add(visit)
        db.session.flush()
        append_case_event(case, action="visit.planned", actor=actor, after=_visit_dict(visit))
        return visit


def get_visit(user: User, visit_id: int) -> PlannedVisit:
    """A planned visit of a case `user` may open; any other looks like none."""
    visit = db.session.get(PlannedVisit, visit_id)
    if visit is None or not access.can_view_case(user, visit.case):
        raise NotFound(_l("No such planned visit."))
    return visit


def cancel_visit(actor: Actor, visit_id: int, data: dict) -> PlannedVisit:
    """The case's facilitator cancels a visit still planned (or missed), with a reason.
    The visit's id is checked before the reason: someone else's visit looks like none."""
    with write_transaction():
        found = db.session.get(PlannedVisit, visit_id)
        if found is None or actor.user is None or not access.can_view_case(actor.user, found.case):
            raise NotFound(_l("No such planned visit."))
        case = lock_case(found.case_id)
        visit = db.session.get(PlannedVisit, visit_id, populate_existing=True)
        case_services._authorize(actor, case, (Role.FACILITATOR,), _l("cancel a planned visit"), None)
        values = load(CancelVisitSchema(), data)
        if visit.status != PLANNED:
            raise ValidationError(_l("Some fields need attention."),
                                  fields={"reason": [_l("This visit is no longer planned.")]})
        before = _visit_dict(visit)
        visit.status = CANCELLED
        visit.cancel_reason = values["reason"]
        append_case_event(case, action="visit.cancelled", actor=actor, before=before, after=_visit_dict(visit))
        return visit


_visits = PlannedVisit.__table__
# Every step asks this (a tablet's outbox ten times in one request): built once per process
# with bound parameters, and run on the connection (the rows are values, not objects).
_PLANNED_OF_STEP_TYPE = (
    select(_visits.c.id, _visits.c.planned_at, _visits.c.timezone)
    .where(waiting_for_step(bindparam("case_id"), bindparam("step_type")))
    .order_by(_visits.c.planned_at, _visits.c.id)
)


def _on_step_logged(case: Case, *, step: Step, visits_waiting: bool | None = None, **_kwargs: Any) -> None:
    """A step of a planned visit's type on its day (in the zone it was planned in) makes
    the earliest such visit done: planned → done ("terencana → terlaksana")."""
    if visits_waiting is False:
        return  # the step's INSERT found none waiting (models.agenda.waiting_for_step)
    # Most steps were not planned: the candidates' times first, the visit itself only
    # when one falls on the step's day. The step's service sends this without autoflush
    # (nothing of the visits waits to be written then): the connection sees what it would.
    candidates = db.session.connection().execute(
        _PLANNED_OF_STEP_TYPE, {"case_id": case.id, "step_type": step.step_type}).all()
    for visit_id, planned_at, zone in candidates:
        if local_day(step.occurred_at, zone) == local_day(planned_at, zone):
            visit = db.session.get(PlannedVisit, visit_id)
            before = _visit_dict(visit)
            visit.status, visit.step_id, visit.done_at = DONE, step.id, step.occurred_at
            append_case_event(case, action="visit.done", actor=None, before=before, after=_visit_dict(visit))
            return


def is_missed(visit: PlannedVisit, now: datetime | None = None) -> bool:
    """Still planned after the end of its day."""
    day = local_day(visit.planned_at, visit.timezone)
    return visit.status == PLANNED and (now or utcnow()) >= end_of_day(day, visit.timezone)


def planned_visits_of(case: Case) -> list[PlannedVisit]:
    """A case's planned visits (the caller may see the case), the latest plan first."""
    return list(db.session.execute(
        select(PlannedVisit).where(PlannedVisit.case_id == case.id)
        .order_by(PlannedVisit.planned_at.desc(), PlannedVisit.id.desc())).scalars())


def init_app(_app) -> None:
    step_logged.connect(_on_step_logged)


# --- settings and the calendar feed ------------------------------------------------------------


def settings_for(user: User) -> AgendaSettings:
    """The person's settings (the defaults, unsaved, until they change them)."""
    found = db.session.get(AgendaSettings, user.id)
    return found or AgendaSettings(user_id=user.id, remind_tomorrow=True, remind_overdue=True,
                                   feed_details=False, feed_token_hash=None)


def _settings_dict(settings: AgendaSettings) -> dict[str, Any]:
    return {"remind_tomorrow": settings.remind_tomorrow, "remind_overdue": settings.remind_overdue,
            "feed": settings.feed_token_hash is not None, "feed_details": settings.feed_details}


def _require_agenda_user(actor: Actor) -> User:
    if actor.user is None or actor.user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        raise NotAllowed(_l("Only facilitators and supervisors have an agenda."))
    return actor.user


def _locked_settings(user: User) -> tuple[AgendaSettings, bool]:
    """The person's settings row, locked; and whether it is new (the defaults until now)."""
    settings = db.session.get(AgendaSettings, user.id, with_for_update=True, populate_existing=True)
    if settings is not None:
        return settings, False
    settings = AgendaSettings(user_id=user.id, remind_tomorrow=True, remind_overdue=True,
                              feed_details=False, updated_at=utcnow())
    db.session.add(settings)
    return settings, True


def update_settings(actor: Actor, data: dict) -> AgendaSettings:
    """Which reminders the person gets, and whether their feed's events carry details
    (place, purpose, institution) besides the item's type and the case number."""
    user = _require_agenda_user(actor)
    values = load(AgendaSettingsSchema(), data)
    with write_transaction():
        settings, new = _locked_settings(user)
        before = None if new else _settings_dict(settings)
        for name in ("remind_tomorrow", "remind_overdue", "feed_details"):
            setattr(settings, name, values[name])
        settings.updated_at = utcnow()
        append_event(chain=user_chain(user.id), action="agenda.settings_changed", actor=actor, before=before,
                     after=_settings_dict(settings))
        return settings


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(actor: Actor) -> str:
    """A new private calendar address for the person (any earlier one stops working).
    Only its hash is kept: the address is shown this once."""
    user = _require_agenda_user(actor)
    token = secrets.token_urlsafe(32)
    with write_transaction():
        settings, _new = _locked_settings(user)
        replaced = settings.feed_token_hash is not None
        settings.feed_token_hash = _token_hash(token)
        settings.feed_created_at = settings.updated_at = utcnow()
        append_event(chain=user_chain(user.id), action="agenda.feed_created", actor=actor,
                     after={"replaced": replaced, "feed_details": settings.feed_details})
    return token


def revoke_feed(actor: Actor) -> None:
    """The private calendar address stops working at once."""
    user = _require_agenda_user(actor)
    with write_transaction():
        settings, _new = _locked_settings(user)
        if settings.feed_token_hash is None:
            return
        settings.feed_token_hash = None
        settings.updated_at = utcnow()
        append_event(chain=user_chain(user.id), action="agenda.feed_revoked", actor=actor,
                     before={"feed": True}, after={"feed": False})


def feed_owner(token: str) -> tuple[User, AgendaSettings] | None:
    """Whose feed this secret opens (an active facilitator or supervisor), or None."""
    if not token or len(token) > 100:
        return None
    settings = db.session.execute(
        select(AgendaSettings).where(AgendaSettings.feed_token_hash == _token_hash(token))).scalar_one_or_none()
    if settings is None:
        return None
    user = db.session.get(User, settings.user_id)
    if user is None or not user.active or user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        return None
    return user, settings


def feed_items(user: User, now: datetime | None = None) -> list[AgendaItem]:
    """What the calendar feed shows: the overdue items and those of the next FEED_DAYS."""
    now = now or utcnow()
    agenda = agenda_for(user, days=FEED_DAYS, now=now)
    return agenda.overdue + agenda.due_today + agenda.this_week


# --- reminders (a periodic job) ---------------------------------------------------------------

TOMORROW, OVERDUE = "tomorrow", "overdue"


def send_reminders(now: datetime | None = None) -> int:
    """In-app notifications for what falls due tomorrow and what has become overdue, once
    per item, for every active facilitator and supervisor who wants them. A plain function
    for the task queue (or cron through the command line); returns how many were sent."""
    now = now or utcnow()
    people = db.session.execute(
        select(User).where(User.active.is_(True), User.role.in_((Role.FACILITATOR, Role.SUPERVISOR)))
        .order_by(User.id)).scalars().all()
    sent = 0
    for user in people:
        settings = settings_for(user)
        if not (settings.remind_tomorrow or settings.remind_overdue):
            continue
        with write_transaction():
            sent += _remind(user, settings, now)
    return sent


def _remind(user: User, settings: AgendaSettings, now: datetime) -> int:
    agenda = agenda_for(user, days=2, now=now)
    tomorrow = agenda.today + timedelta(days=1)
    wanted = []
    if settings.remind_overdue:
        wanted += [(OVERDUE, item) for item in agenda.overdue]
    if settings.remind_tomorrow:
        wanted += [(TOMORROW, item) for item in agenda.this_week if item.day == tomorrow]
    if not wanted:
        return 0
    done = set(db.session.execute(
        select(AgendaReminder.item_key, AgendaReminder.kind).where(AgendaReminder.user_id == user.id)).all())
    count = 0
    for kind, item in wanted:
        if (item.key, kind) in done:
            continue
        db.session.add(AgendaReminder(user_id=user.id, item_key=item.key, kind=kind, sent_at=now))
        db.session.add(Notification(user_id=user.id, kind=f"agenda.{kind}", case_id=item.case_id, created_at=now,
                                    data={"item": item.kind, "case_number": item.case_number,
                                          "day": item.day.isoformat()}))
        count += 1
    return count

