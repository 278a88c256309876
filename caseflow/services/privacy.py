"""Personal data (UU 27/2022): what is held about one client, and erasing it when the
retention period of closed cases has passed — with the figures and the audit chain intact."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from ..audit.chain import jsonable
from ..database import utcnow, write_transaction
from ..errors import NotAllowed, NotFound
from ..extensions import db
from ..i18n import _l
from ..models import Aftercare, AuditEvent, Case, Client, Referral, Role
from . import access, attachments
from .audit import append_case_event, event_dicts
from .cases import _assessment_dict, _evaluation_dict, _plan_dict, _step_dict, _termination_dict
from .clients import client_dict
from .context import Actor
from .locking import lock_case
from .referrals import referral_dict
from .runtime import engines

ERASED = "[anonim]"


def _final_states() -> set[str]:
    return {name for e in engines().values() for name, state in e.definition.states.items() if state.final}


# --- data-subject export ------------------------------------------------------------


def export_client_data(actor: Actor, client_id: int) -> dict[str, Any]:
    """Everything held about one client, for an authorised request: the supervisor of a
    facilitator handling one of the client's cases, or an auditor whose scope covers one.
    The export itself is recorded in the audit trail of each of the client's cases."""
    user = actor.user
    if user is None or user.role not in (Role.SUPERVISOR, Role.AUDITOR):
        raise NotAllowed(_l("Only a supervisor or an auditor may export a client's data."))
    with write_transaction():
        client = db.session.get(Client, client_id)
        if client is None:
            raise NotFound(_l("No such client."))
        client_cases = db.session.execute(select(Case).where(Case.client_id == client.id).order_by(Case.id)).scalars().all()
        if not any(access.can_view_case(user, case) for case in client_cases):
            raise NotFound(_l("No such client."))
        exported: dict[str, Any] = {
            "exported_at": utcnow(),
            "exported_by": {"id": user.id, "username": user.username, "role": user.role},
            "client": client_dict(client) | {
                "health_notes": client.health_notes,
                "consent_recorded_at": client.consent_recorded_at,
                "consent_recorded_by_id": client.consent_recorded_by_id,
                "created_at": client.created_at,
                "anonymised_at": client.anonymised_at,
            },
            "cases": [],
        }
        for case in client_cases:
            case = lock_case(case.id)
            exported["cases"].append({
                "number": case.number, "state": case.state, "workflow": case.workflow,
                "ppks_category_code": case.ppks_category_code, "opened_at": case.opened_at,
                "closed_at": case.closed_at, "closure_reason": case.closure_reason,
                "facilitator_id": case.facilitator_id, "summary": case.summary,
                "assessment": _assessment_dict(case.assessment) and (
                    _assessment_dict(case.assessment) | {"protection_notes": case.assessment.protection_notes}),
                "plan": _plan_dict(case.plan),
                "evaluation": _evaluation_dict(case.evaluation),
                "termination": _termination_dict(case.termination),
                "steps": [_step_dict(step) for step in case.steps],
                "referrals": [referral_dict(r) for r in _referrals(case)],
                "aftercare": [{"started_at": a.started_at, "ended_at": a.ended_at, "outcome": a.outcome,
                               "plan": a.plan} for a in _aftercare(case)],
                "sign_offs": [
                    {"requested_at": s.requested_at, "decision": s.decision, "decided_at": s.decided_at,
                     "reason": s.reason} for s in case.sign_offs
                ],
                "audit_events": [
                    {k: e[k] for k in ("seq", "occurred_at", "actor_id", "actor_role", "action", "before", "after", "context")}
                    for e in event_dicts(AuditEvent.case_id == case.id)
                ],
            })
            append_case_event(case, action="client.data_exported", actor=actor,
                              context={"client_id": client.id, "reason": "data-subject request"})
        return _plain(exported)


def _plain(value: Any) -> Any:
    return jsonable(value)


# --- retention ---------------------------------------------------------------------


@dataclass
class AnonymisationReport:
    cutoff: datetime
    clients: list[int] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    skipped_clients: list[int] = field(default_factory=list)  # some case still open or recent


def anonymise_closed_cases(actor: Actor, older_than_days: int, *, dry_run: bool = False) -> AnonymisationReport:
    """Erase the personal data of clients whose every case closed more than
    `older_than_days` ago. States, dates, categories, provinces, outcomes and ratings stay,
    so every figure is unchanged; audit payloads are erased but their digests stay, so
    every chain still verifies. One client per transaction."""
    if older_than_days < 1:
        raise ValueError("the retention period must be at least one day")
    cutoff = utcnow() - timedelta(days=older_than_days)
    report = AnonymisationReport(cutoff=cutoff)
    final = _final_states()
    candidates = db.session.execute(
        select(Case.client_id).where(Case.state.in_(final), Case.closed_at < cutoff,
                                     Case.anonymised_at.is_(None)).distinct()
    ).scalars().all()
    db.session.rollback()
    for client_id in candidates:
        cases = db.session.execute(select(Case).where(Case.client_id == client_id)).scalars().all()
        # A case still followed in aftercare is still in work, however long ago it was resolved.
        if any(c.state not in final or c.closed_at is None or c.closed_at >= cutoff
               or Aftercare.running_for(c.id) is not None for c in cases):
            report.skipped_clients.append(client_id)
            db.session.rollback()
            continue
        if dry_run:
            report.clients.append(client_id)
            report.cases.extend(c.number for c in cases)
            db.session.rollback()
            continue
        _anonymise_client(actor, client_id, [c.id for c in cases], cutoff)
        report.clients.append(client_id)
        report.cases.extend(c.number for c in cases)
    return report


def _anonymise_client(actor: Actor, client_id: int, case_ids: list[int], cutoff: datetime) -> None:
    with write_transaction():
        now = utcnow()
        client = db.session.get(Client, client_id, with_for_update=True)
        locked = [lock_case(case_id) for case_id in sorted(case_ids)]
        client.full_name = ERASED
        client.nik = None
        client.address = ""
        client.phone = None
        client.guardian_name = ERASED if client.guardian_name else None
        client.guardian_relationship = None
        client.consent_given_by = ERASED
        client.health_notes = None
        # The birth year keeps age-group figures; the day and month identify.
        client.birth_date = date(client.birth_date.year, 7, 1)
        client.anonymised_at = now
        for case in locked:
            _scrub_case_texts(case)
            case.anonymised_at = now
        _erase_audit_payloads(client_id, [c.id for c in locked], now)
        removed = attachments.remove_for_cases([c.id for c in locked])
        for case in locked:
            append_case_event(case, action="case.anonymised", actor=actor,
                              context={"rule": "retention", "closed_before": cutoff})
    attachments.unlink(removed)  # the files, once the rows are gone for good


def _scrub_case_texts(case: Case) -> None:
    case.summary = ""
    if case.assessment:
        for name in ("problem", "needs", "strengths", "resources"):
            setattr(case.assessment, name, "")
        case.assessment.protection_notes = None
    if case.plan:
        case.plan.summary = ""
        for goal in case.plan.goals:
            goal.description = ERASED
            goal.responsible_party = ""
    if case.evaluation:
        case.evaluation.summary = ""
        for rating in case.evaluation.ratings:
            rating.notes = ""
    if case.termination:
        case.termination.reason_details = ""
        case.termination.aftercare_plan = ""
    for step in case.steps:
        step.notes = ""
        step.location = None
    # The kind of service and the dates stay (referral figures); why and what came back go.
    for referral in _referrals(case):
        referral.reason = ""
        referral.feedback = ""
    for period in _aftercare(case):
        period.plan = ""


def _referrals(case: Case) -> list[Referral]:
    return list(db.session.execute(select(Referral).where(Referral.case_id == case.id)
                                   .order_by(Referral.id)).scalars())


def _aftercare(case: Case) -> list[Aftercare]:
    return list(db.session.execute(select(Aftercare).where(Aftercare.case_id == case.id)
                                   .order_by(Aftercare.started_at)).scalars())


def _erase_audit_payloads(client_id: int, case_ids: list[int], now: datetime) -> None:
    """Erase before/after/context (and the salt) of the events about this client. The
    hashed digest stays, so the chain verifies; an erased event is marked, not hidden."""
    events = AuditEvent.__table__
    registration_ids = db.session.execute(
        select(AuditEvent.id).where(
            AuditEvent.action == "client.registered", AuditEvent.after["id"].as_integer() == client_id
        )
    ).scalars().all()
    db.session.connection().execute(
        events.update()
        .where(or_(events.c.case_id.in_(case_ids), events.c.id.in_(registration_ids or [-1])))
        .where(events.c.redacted_at.is_(None))
        .values(before=None, after=None, context=None, payload_salt=None, redacted_at=now)
    )
