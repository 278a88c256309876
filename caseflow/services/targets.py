"""Work targets (target kinerja): the programme manager sets the national default of each
measure per kind of period; a supervisor adjusts a facilitator's target for one period,
with a reason; and signs the facilitator's performance report of a period for their PPPK
evaluation (four eyes: the facilitator's supervisor, never the facilitator), bound to the
figures approved. Every write is audited; the progress itself is read, never stored
(caseflow/reports/targets.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..database import utcnow, write_transaction
from ..errors import Conflict, NotAllowed, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Role, User
from ..models.agenda import PerformanceReport, WorkTarget, figures_digest
from ..schemas import load
from ..schemas.agenda import FacilitatorTargetSchema, NationalTargetSchema
from . import access
from .audit import append_event, user_chain
from .context import Actor


def _target_dict(target: WorkTarget) -> dict[str, Any]:
    return {name: getattr(target, name) for name in (
        "id", "facilitator_id", "period_kind", "period_start", "measure", "target", "reason")}


def set_national_target(actor: Actor, data: dict) -> WorkTarget:
    """The programme manager sets the national default of a measure for a kind of period;
    it holds for every facilitator without a target of their own."""
    if actor.user is None or actor.user.role != Role.PROGRAMME_MANAGER:
        raise NotAllowed(_l("Only the programme manager sets the national targets."))
    values = load(NationalTargetSchema(), data)
    with write_transaction():
        target = WorkTarget(facilitator_id=None, period_kind=values["period_kind"], period_start=None,
                            measure=values["measure"], target=values["target"], reason="",
                            set_by_id=actor.user_id, set_at=utcnow())
        db.session.add(target)
        db.session.flush()
        append_event(chain=user_chain(actor.user_id), action="target.default_set", actor=actor,
                     after=_target_dict(target))
        return target


def team_facilitator(actor: Actor, facilitator_id: int | None, field: str = "facilitator_id") -> User:
    """A facilitator of the supervisor's team (or of a team they act for today); anyone
    else looks like nobody, named at the field."""
    user = actor.user
    if user is None or user.role != Role.SUPERVISOR:
        raise NotAllowed(_l("Only the facilitator's supervisor may do this."))
    found = db.session.get(User, facilitator_id) if facilitator_id else None
    team = {row for row in db.session.execute(access.supervised_ids(user)).scalars()}
    if found is None or found.id not in team or found.role != Role.FACILITATOR:
        raise NotFound(_l("No such facilitator in your team."),
                       fields={field: [_l("No such facilitator in your team.")]})
    return found


def report_subject(actor: Actor, user_id: int) -> User:
    """Whose targets and performance report `actor` may open: their own (a facilitator),
    or a facilitator of their team (a supervisor); anyone else's looks like nobody's."""
    user = actor.user
    if user is not None and user.role == Role.FACILITATOR:
        if user_id != user.id:
            raise NotFound(_l("No such facilitator in your team."))
        return user
    if user is not None and user.role == Role.SUPERVISOR:
        return team_facilitator(actor, user_id)
    raise NotAllowed(_l("Only facilitators and their supervisors see a performance report."))


def _first_of_period(kind: str, day: date) -> bool:
    if day.day != 1:
        return False
    return kind == "month" or (kind == "quarter" and day.month in (1, 4, 7, 10)) or (kind == "year" and day.month == 1)


def set_facilitator_target(actor: Actor, data: dict) -> WorkTarget:
    """The supervisor sets one facilitator's target of a measure for one period (starting
    on its first day), with a reason; audited on the facilitator's chain."""
    values = load(FacilitatorTargetSchema(), data)
    with write_transaction():
        facilitator = team_facilitator(actor, values["facilitator_id"])
        if not _first_of_period(values["period_kind"], values["period_start"]):
            raise ValidationError(_l("Some fields need attention."), fields={"period_start": [
                _l("A period starts on the first day of its month, quarter or year.")]})
        target = WorkTarget(facilitator_id=facilitator.id, period_kind=values["period_kind"],
                            period_start=values["period_start"], measure=values["measure"],
                            target=values["target"], reason=values["reason"], set_by_id=actor.user_id,
                            set_at=utcnow())
        db.session.add(target)
        db.session.flush()
        append_event(chain=user_chain(facilitator.id), action="target.set", actor=actor,
                     after=_target_dict(target))
        return target


def sign_performance_report(actor: Actor, facilitator_id: int, figures: dict[str, Any], seen_digest: str,
                            note: str = "") -> PerformanceReport:
    """The facilitator's supervisor signs their results of a period: `figures` as computed
    now (by the caller, from the figure definitions) must be those the supervisor saw
    (`seen_digest`), or nothing is signed. A period is signed once."""
    with write_transaction():
        facilitator = team_facilitator(actor, facilitator_id)
        if facilitator.id == actor.user_id:
            raise NotAllowed(_l("Nobody signs their own performance report."))
        digest = figures_digest(figures)
        if digest != seen_digest:
            raise Conflict(_l("The figures changed since you opened the report. Look at them again before "
                              "you sign."), current={"digest": digest})
        start = date.fromisoformat(figures["period_start"])
        existing = db.session.execute(db.select(PerformanceReport).where(
            PerformanceReport.facilitator_id == facilitator.id,
            PerformanceReport.period_kind == figures["period_kind"],
            PerformanceReport.period_start == start)).scalar_one_or_none()
        if existing is not None:
            raise Conflict(_l("This period's report is already signed."), current={"digest": existing.digest})
        report = PerformanceReport(facilitator_id=facilitator.id, period_kind=figures["period_kind"],
                                   period_start=start, figures=figures, digest=digest,
                                   signed_by_id=actor.user_id, signed_at=utcnow(), note=note[:2000])
        db.session.add(report)
        db.session.flush()
        append_event(chain=user_chain(facilitator.id), action="performance_report.signed", actor=actor,
                     after={"id": report.id, "period_kind": report.period_kind,
                            "period_start": report.period_start, "digest": digest, "figures": figures})
        return report


def signed_report(facilitator_id: int, kind: str, start: date) -> PerformanceReport | None:
    return db.session.execute(db.select(PerformanceReport).where(
        PerformanceReport.facilitator_id == facilitator_id, PerformanceReport.period_kind == kind,
        PerformanceReport.period_start == start)).scalar_one_or_none()
