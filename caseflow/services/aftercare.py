"""Aftercare (bimbingan lanjut): following a resolved case for the period its workflow
file sets, with planned follow-up contacts.

- A case entering a stage the workflow's `aftercare:` follows (resolved) starts a period:
  its planned contacts are fixed then, from the file, and audited on the case's chain.
- During the period, the case's facilitator logs steps as on an open case (also from the
  tablet's outbox); a step within a planned contact's window makes that contact.
- Reopening the case during the period (a relapse, by the workflow's reopening rules)
  ends it as "relapsed". Otherwise it ends at its planned end.

The case stays in its resolved stage throughout: its state, its stage history and the
moment it counted as resolved are never touched here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Exists, Select, and_, select
from sqlalchemy.orm import selectinload

from ..database import utcnow, write_transaction
from ..errors import InvalidTransition
from ..extensions import db
from ..i18n import _l
from ..models import Aftercare, AftercareContact, Case, Role, Step, User
from ..signals import case_moved, step_logged
from ..workflow import AftercareDef, TransitionDef
from . import access
from . import cases as case_services
from .audit import append_case_event
from .context import Actor
from .locking import lock_case
from .runtime import engine

RELAPSED = "relapsed"


def _contact_dict(contact: AftercareContact) -> dict[str, Any]:
    return {"number": contact.number, "due_at": contact.due_at, "opens_at": contact.opens_at,
            "closes_at": contact.closes_at}


def start(actor: Actor | None, case: Case, definition: AftercareDef, now: datetime) -> Aftercare:
    """Open the aftercare period of a case that has just been resolved (the caller holds
    the case locked, inside the transaction of the move)."""
    plan = case.termination.aftercare_plan if case.termination is not None else ""
    period = Aftercare(case_id=case.id, started_at=now, planned_end_at=now + timedelta(days=definition.period_days),
                       ended_at=now + timedelta(days=definition.period_days), plan=plan or "", created_at=now)
    window = timedelta(days=definition.window_days)
    for number, day in enumerate(definition.contacts_days, 1):
        due = now + timedelta(days=day)
        period.contacts.append(AftercareContact(number=number, due_at=due, opens_at=due - window,
                                                closes_at=due + window))
    db.session.add(period)
    db.session.flush()
    append_case_event(case, action="aftercare.started", actor=actor, after={
        "aftercare_id": period.id, "planned_end_at": period.planned_end_at,
        "contacts": [_contact_dict(c) for c in period.contacts],
    })
    return period


def _on_case_moved(case: Case, *, actor: Actor | None, transition: TransitionDef, source: str,
                   now: datetime, **_kwargs: Any) -> None:
    if transition.reopens:
        running = Aftercare.running_for(case.id, now)
        if running is not None:
            before = {"aftercare_id": running.id, "ended_at": running.ended_at, "outcome": None}
            running.outcome = RELAPSED
            running.ended_at = now
            append_case_event(case, action="aftercare.ended", actor=actor, before=before,
                              after={"aftercare_id": running.id, "ended_at": now, "outcome": RELAPSED},
                              context={"trigger": transition.trigger})
    definition = engine(case.workflow).aftercare_after(case.state)
    if definition is not None:
        start(actor, case, definition, now)


def _on_step_logged(case: Case, *, step: Step, **_kwargs: Any) -> None:
    """A step during aftercare makes the first planned contact whose window it falls in."""
    if not engine(case.workflow).is_final(case.state):
        return  # aftercare follows a resolution and ends when the case is reopened
    running = Aftercare.running_for(case.id)
    if running is None:
        return
    for contact in running.contacts:
        if contact.made_at is None and contact.opens_at <= step.occurred_at < contact.closes_at:
            contact.step_id = step.id
            contact.made_at = step.occurred_at
            append_case_event(case, action="aftercare.contact_made", actor=None, after={
                "aftercare_id": running.id, "number": contact.number, "step_id": step.id,
                "made_at": step.occurred_at})
            return


def init_app(_app: Flask) -> None:
    """Follow the case services' events: moves start and end aftercare, steps make contacts."""
    case_moved.connect(_on_case_moved)
    step_logged.connect(_on_step_logged)


# --- use cases ---------------------------------------------------------------------------


def log_follow_up(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Step:
    """The case's facilitator logs a follow-up contact (a step) on a case in aftercare. The
    same as logging a step, refused when the case is not in aftercare."""
    with write_transaction():
        case = lock_case(case_id)
        # The case aggregate's own checks, in its order: the right on the case, then the state.
        case_services._authorize(actor, case, (Role.FACILITATOR,), _l("log a follow-up"), expected_version)
        if Aftercare.running_for(case.id) is None:
            raise InvalidTransition(_l("The case is not in aftercare: there is no follow-up to log."),
                                    current=case_services.case_summary(case))
        return case_services.log_step(actor, case_id, data, expected_version)


# --- reading -----------------------------------------------------------------------------


def contact_status(period: Aftercare, contact: AftercareContact, now: datetime) -> str:
    """made / missed / open / planned; "cancelled" for a contact a relapse came before."""
    if period.outcome == RELAPSED and contact.made_at is None and contact.closes_at > period.ended_at:
        return "cancelled"
    return contact.status(now)


def status_of(case: Case, now: datetime | None = None) -> dict[str, Any] | None:
    """The case's latest aftercare period with each planned contact's status (made, missed,
    open now, planned), or None if the case never had one. The caller may see the case."""
    period = Aftercare.latest_for(case.id)
    if period is None:
        return None
    now = now or utcnow()
    contacts = [{"number": c.number, "due_at": c.due_at, "opens_at": c.opens_at, "closes_at": c.closes_at,
                 "made_at": c.made_at, "step_id": c.step_id, "status": contact_status(period, c, now)}
                for c in period.contacts]
    if period.outcome == RELAPSED:
        state = RELAPSED
    elif period.is_running(now):
        state = "running"
    else:
        state = "completed"
    steps = db.session.execute(
        select(Step).where(Step.case_id == case.id, Step.recorded_at >= period.started_at,
                              Step.recorded_at < period.ended_at).order_by(Step.occurred_at.desc())
    ).scalars().all()
    return {"id": period.id, "state": state, "started_at": period.started_at,
            "planned_end_at": period.planned_end_at, "ended_at": period.ended_at, "plan": period.plan,
            "contacts": contacts, "as_planned": all(c["status"] == "made" for c in contacts),
            "next_contact": next((c for c in contacts if c["status"] in ("open", "planned")), None),
            "steps": list(steps)}


def _running(now: datetime):
    return and_(Aftercare.outcome.is_(None), Aftercare.started_at <= now, Aftercare.ended_at > now)


def running_periods(user: User, now: datetime | None = None) -> list[tuple[Aftercare, Case]]:
    """The aftercare periods running now on the cases `user` may open, the one whose next
    contact is due first at the top."""
    now = now or utcnow()
    rows = db.session.execute(
        access.visible_cases(user, select(Aftercare, Case).join(Case, Case.id == Aftercare.case_id))
        .where(_running(now))
        .options(selectinload(Aftercare.contacts), selectinload(Case.client), selectinload(Case.facilitator))
    ).all()

    def next_due(row) -> datetime:
        waiting = [c.closes_at for c in row[0].contacts if c.made_at is None and c.closes_at > now]
        return min(waiting) if waiting else row[0].ended_at

    return sorted(((period, case) for period, case in rows), key=next_due)


def _due(user: User, now: datetime, statement: Select, today: Any = None) -> Select:
    """Planned contacts whose window is open now and not yet made, of the running periods
    on `user`'s cases (`statement` over AftercareContact; `today`: access.visible_cases')."""
    return access.visible_cases(user, statement.join(Aftercare, Aftercare.id == AftercareContact.aftercare_id)
                                .join(Case, Case.id == Aftercare.case_id), today).where(
        _running(now), AftercareContact.made_at.is_(None), AftercareContact.opens_at <= now,
        AftercareContact.closes_at > now)


def contacts_due(user: User, now: datetime | None = None) -> list[tuple[AftercareContact, Case]]:
    """Planned contacts whose window is open now and not yet made, on `user`'s cases: the
    period whose next contact closes first at the top (as in `running_periods`), each
    period's in their order."""
    now = now or utcnow()
    rows = db.session.execute(_due(user, now, select(AftercareContact, Case)).options(selectinload(Case.client))).all()
    closes: dict[int, datetime] = {}
    for contact, _case in rows:
        closes[contact.aftercare_id] = min(closes.get(contact.aftercare_id, contact.closes_at), contact.closes_at)
    return sorted(((contact, case) for contact, case in rows),
                  key=lambda row: (closes[row[0].aftercare_id], row[0].aftercare_id, row[0].number))


def contacts_due_exist(user: User, now: Any = None, today: Any = None) -> Exists:
    """Whether `contacts_due` finds any (an EXISTS, for a page that asks more in one
    statement; `now` and the viewer's `today` may be bound parameters, for a statement
    built once)."""
    return _due(user, utcnow() if now is None else now, select(AftercareContact.id), today).exists()
