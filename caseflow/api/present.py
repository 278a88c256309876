"""Models as the plain dicts the response schemas dump."""

from __future__ import annotations

from typing import Any

from flask import g

from ..database import utcnow
from ..i18n.referral_labels import DESTINATION_NAMES, REFERRAL_STATUS_NAMES
from ..models import Case, Client, Referral, Role, SignOff
from ..schemas import step_key_text
from ..services import access, deadlines
from ..services.cases import CaseReading, available_actions
from ..services.runtime import engine
from ..workflow.definition import current_locale


def case_summary(case: Case) -> dict[str, Any]:
    workflow = engine(case.workflow)
    state = workflow.definition.states.get(case.state)
    return {
        "id": case.id, "number": case.number, "workflow": case.workflow, "state": case.state,
        "state_title": state.title(current_locale()) if state else case.state,
        "version": case.version, "client_id": case.client_id,
        "ppks_category_code": case.ppks_category_code, "province_code": case.province_code,
        "facilitator_id": case.facilitator_id, "risk_level": case.risk_level,
        "stage_entered_at": case.stage_entered_at, "stage_due_at": case.stage_due_at,
        "overdue": case.is_overdue(utcnow()) and not workflow.is_final(case.state),
        "opened_at": case.opened_at, "closed_at": case.closed_at, "closure_reason": case.closure_reason,
        "next_action": _next_action(case),
    }


def _next_action(case: Case) -> dict[str, Any] | None:
    """Who must act next, what and by when, as the caller reads it (services.deadlines)."""
    action = deadlines.next_action(case, g.get("api_user"))
    return action.as_dict() if action else None



def sign_off(sign_off: SignOff, case_number: str | None = None) -> dict[str, Any]:
    """`case_number`: the case's, when the caller has it (no case to load for it)."""
    return {
        "id": sign_off.id, "case_id": sign_off.case_id,
        "case_number": sign_off.case.number if case_number is None else case_number,
        "requested_trigger": sign_off.requested_trigger, "requested_by_id": sign_off.requested_by_id,
        "requested_at": sign_off.requested_at, "case_version": sign_off.case_version,
        "decision": sign_off.decision, "decided_by_id": sign_off.decided_by_id,
        "decided_at": sign_off.decided_at, "reason": sign_off.reason,
    }


def actions(user, case: Case) -> list[dict[str, Any]]:
    locale = current_locale()
    return [
        {"trigger": a.trigger, "title": a.title(locale), "enabled": a.enabled,
         "requires_reason": a.transition.requires_reason,
         "missing": [{"record": m.record, "field": m.field, "message": str(m.message)} for m in a.missing]}
        for a in available_actions(user, [case])[case.id]
    ]


def case_detail(user, reading: CaseReading) -> dict[str, Any]:
    case = reading.case
    plan = case.plan
    return case_summary(case) | {
        "summary": case.summary,
        "client": case.client,
        "assessment": case.assessment,
        "plan": None if plan is None else {
            "summary": plan.summary, "updated_at": plan.updated_at,
            "goals": plan.active_goals,
        },
        "evaluation": case.evaluation,
        "termination": case.termination,
        "steps": reading.steps[::-1],
        "step_count": reading.step_count,
        "older_steps": step_key_text(reading.older) if reading.older else None,
        "pending_sign_off": sign_off(pending, case.number) if (pending := case.pending_sign_off) else None,
        "actions": actions(user, case),
    }


def client(user, client: Client) -> dict[str, Any]:
    """The full NIK only for whoever registered the client or works on one of their cases;
    auditors read it masked."""
    data = {name: getattr(client, name) for name in (
        "id", "full_name", "masked_nik", "sex", "birth_date", "province_code", "nik", "address",
        "phone", "guardian_name", "guardian_relationship", "consent_given_by",
        "consent_recorded_at", "created_at")}
    if user.role not in (Role.FACILITATOR, Role.SUPERVISOR) or not access.can_see_client(user, client):
        data["nik"] = None
    return data


def client_list_item(client: Client, cases: dict[str, Any]) -> dict[str, Any]:
    """A client in a list: masked NIK, and where their cases stand."""
    data = {name: getattr(client, name) for name in (
        "id", "full_name", "masked_nik", "sex", "birth_date", "province_code", "created_at")}
    open_case = cases["open"]
    return data | {"has_case": cases["any"], "cases": cases["count"],
                   "open_case_id": open_case.id if open_case is not None else None,
                   "open_case_elsewhere": cases["open_elsewhere"]}


def referral(referral: Referral) -> dict[str, Any]:
    today = utcnow().date()
    return {name: getattr(referral, name) for name in (
        "id", "case_id", "destination_type", "institution", "reason", "goal_id", "sent_on",
        "expected_answer_on", "status", "feedback", "answered_on", "step_id", "created_by_id",
        "created_at", "updated_at")} | {
        "case_number": referral.case.number,
        "destination_title": str(DESTINATION_NAMES.get(referral.destination_type, referral.destination_type)),
        "status_title": str(REFERRAL_STATUS_NAMES.get(referral.status, referral.status)),
        "overdue": referral.is_overdue(today),
    }
