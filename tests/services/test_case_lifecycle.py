"""Every trigger of the rehabilitation workflow, allowed and refused, through the services."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.errors import GuardFailed, InvalidTransition, NotAllowed, NotFound, ValidationError
from caseflow.extensions import db
from caseflow.models import StateAssignmentError
from caseflow.services import cases
from caseflow.services.context import Actor
from tests.support.factories import COMPLETE_ASSESSMENT, a_step, complete_plan, rate_all


def act(user) -> Actor:
    return Actor(user=user)


def test_case_opens_in_recorded_with_a_readable_unique_number(team, make):
    first = make.case(team.facilitator)
    second = make.case(team.facilitator)
    assert first.state == "recorded"
    assert first.number.startswith("91-") and first.number != second.number
    assert first.stage_due_at > first.stage_entered_at
    assert first.version == 1


def test_full_path_to_resolved(team, make):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    assert case.state == "resolved"
    assert case.closed_at is not None
    assert case.closure_reason is None
    assert case.sign_offs[0].decision == "approved"
    assert case.sign_offs[0].decided_by_id == team.supervisor.id


def test_closed_unresolved_keeps_its_reason_and_is_never_resolved(team, make):
    case = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
    assert case.state == "closed_unresolved"
    assert case.closure_reason == "moved"


def test_state_cannot_be_assigned_directly(team, make):
    case = make.case(team.facilitator)
    with pytest.raises(StateAssignmentError):
        case.state = "resolved"


@pytest.mark.parametrize("who, trigger, refusal, match", [
    pytest.param("supervisor", "start_assessment", NotAllowed, "facilitator",
                 id="supervisor cannot start assessment"),
    pytest.param("facilitator2", "start_assessment", NotFound, None, id="other facilitator cannot see or fire"),
    pytest.param("facilitator", "start_intervention", InvalidTransition,
                 "not possible while the case is in 'Recorded'", id="wrong state is refused with the state named"),
])
def test_a_trigger_on_a_new_case_is_refused(team, make, who, trigger, refusal, match):
    case = make.case(team.facilitator)
    with pytest.raises(refusal, match=match):
        cases.fire_trigger(act(getattr(team, who)), case.id, trigger)


def test_other_team_supervisor_cannot_reopen(team, make):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    with pytest.raises(NotFound):
        cases.fire_trigger(act(team.other_supervisor), case.id, "reopen", {"reason": "x"})


@pytest.mark.parametrize("role", ["auditor", "manager", "admin"])
def test_read_only_and_non_case_roles_cannot_fire(team, make, role):
    case = make.case(team.facilitator)
    user = {"auditor": team.auditor, "manager": team.manager, "admin": team.admin}[role]
    with pytest.raises((NotAllowed, NotFound)):
        cases.fire_trigger(act(user), case.id, "start_assessment")


def test_complete_assessment_names_what_is_missing(team, make):
    case = make.case(team.facilitator, to="assessment")
    cases.save_assessment(act(team.facilitator), case.id, {"problem": "Masalah"})
    with pytest.raises(GuardFailed) as refused:
        cases.fire_trigger(act(team.facilitator), case.id, "complete_assessment")
    text = str(refused.value)
    assert "needs" in text and "strengths" in text and "risk level" in text
    assert "problem" not in text
    assert {m.field for m in refused.value.missing} == {"needs", "strengths", "risk_level"}
    db.session.refresh(case)
    assert case.state == "assessment"


def test_plan_needs_a_goal_with_a_target_date(team, make):
    case = make.case(team.facilitator, to="planning")
    with pytest.raises(GuardFailed, match="plan has not been made"):
        cases.fire_trigger(act(team.facilitator), case.id, "start_intervention")
    cases.save_plan(act(team.facilitator), case.id, {"summary": "Draf", "goals": []})
    with pytest.raises(GuardFailed, match="at least one goal"):
        cases.fire_trigger(act(team.facilitator), case.id, "start_intervention")
    cases.save_plan(act(team.facilitator), case.id, {"goals": [{"description": "Sekolah"}]})
    with pytest.raises(GuardFailed, match="target date"):
        cases.fire_trigger(act(team.facilitator), case.id, "start_intervention")


def test_evaluation_needs_a_step_during_intervention(team, make):
    case = make.case(team.facilitator, to="planning")
    cases.save_plan(act(team.facilitator), case.id, complete_plan())
    cases.fire_trigger(act(team.facilitator), case.id, "start_intervention")
    with pytest.raises(GuardFailed, match="at least one step"):
        cases.fire_trigger(act(team.facilitator), case.id, "start_evaluation")


def test_termination_needs_every_goal_rated(team, make):
    case = make.case(team.facilitator, to="evaluation")
    cases.save_evaluation(act(team.facilitator), case.id, {"summary": "Sebagian", "ratings": []})
    cases.save_termination_request(act(team.facilitator), case.id,
                                   {"outcome": "resolved", "aftercare_plan": "Bulanan"})
    with pytest.raises(GuardFailed, match="does not rate goal 1"):
        cases.fire_trigger(act(team.facilitator), case.id, "request_termination")


def test_resolved_termination_needs_aftercare(team, make):
    case = make.case(team.facilitator, to="evaluation")
    cases.save_evaluation(act(team.facilitator), case.id, rate_all(case, "achieved"))
    cases.save_termination_request(act(team.facilitator), case.id, {"outcome": "resolved"})
    with pytest.raises(GuardFailed, match="aftercare"):
        cases.fire_trigger(act(team.facilitator), case.id, "request_termination")


def test_unresolved_termination_needs_a_closure_reason(team, make):
    case = make.case(team.facilitator, to="evaluation")
    with pytest.raises(ValidationError) as refused:
        cases.save_termination_request(act(team.facilitator), case.id, {"outcome": "closed_unresolved"})
    assert "closure_reason" in refused.value.fields


def test_unknown_trigger_and_unknown_case(team, make):
    case = make.case(team.facilitator)
    with pytest.raises(InvalidTransition, match="Unknown action"):
        cases.fire_trigger(act(team.facilitator), case.id, "teleport")
    with pytest.raises(NotFound):
        cases.fire_trigger(act(team.facilitator), 999999, "start_assessment")


def test_records_are_editable_only_in_their_stage(team, make):
    case = make.case(team.facilitator)
    with pytest.raises(InvalidTransition, match="assessment can only be changed"):
        cases.save_assessment(act(team.facilitator), case.id, COMPLETE_ASSESSMENT)


def test_revise_plan_when_goals_not_met_and_evaluation_starts_afresh(team, make):
    case = make.case(team.facilitator, to="evaluation")
    cases.save_evaluation(act(team.facilitator), case.id, rate_all(case, "achieved"))
    with pytest.raises(GuardFailed, match="nothing to plan again"):
        cases.fire_trigger(act(team.facilitator), case.id, "revise_plan")
    cases.save_evaluation(act(team.facilitator), case.id, rate_all(case, "not_achieved"))
    cases.fire_trigger(act(team.facilitator), case.id, "revise_plan")
    db.session.refresh(case)
    assert case.state == "planning"
    assert case.evaluation is None


def test_supervisor_rejects_with_reason_and_case_returns_to_evaluation(team, make):
    case = make.case(team.facilitator, to="termination_review")
    sign_off = case.pending_sign_off
    with pytest.raises(ValidationError) as refused:
        cases.decide_sign_off(act(team.supervisor), sign_off.id, {"decision": "reject"})
    assert "reason" in refused.value.fields
    cases.decide_sign_off(act(team.supervisor), sign_off.id, {"decision": "reject", "reason": "Belum ada bukti"})
    db.session.refresh(case)
    assert case.state == "evaluation"
    assert case.sign_offs[0].decision == "rejected"


def test_facilitator_cannot_approve_own_termination(team, make):
    case = make.case(team.facilitator, to="termination_review")
    with pytest.raises(NotAllowed, match="Four-eyes"):
        cases.decide_sign_off(act(team.facilitator), case.pending_sign_off.id, {"decision": "approve"})


def test_supervisor_cannot_approve_own_termination(team, make):
    """A supervisor who is also the case's facilitator (a small office) cannot decide."""
    boss = make.user("supervisor", province="91")
    doubling = make.user("supervisor", province="91")
    case = make.case(team.facilitator, to="termination_review")
    # The facilitator's supervisor requested it themselves is impossible; simulate a requester
    # equal to the decider by making the decider the requester.
    sign_off = case.pending_sign_off
    sign_off.requested_by_id = team.supervisor.id
    db.session.commit()
    with pytest.raises(NotAllowed, match="Four-eyes"):
        cases.decide_sign_off(act(team.supervisor), sign_off.id, {"decision": "approve"})
    assert boss.id != doubling.id


def test_supervisor_of_another_team_cannot_decide(team, make):
    case = make.case(team.facilitator, to="termination_review")
    with pytest.raises(NotFound):
        cases.decide_sign_off(act(team.other_supervisor), case.pending_sign_off.id, {"decision": "approve"})


def test_approval_cannot_be_fired_directly(team, make):
    case = make.case(team.facilitator, to="termination_review")
    with pytest.raises(NotAllowed, match="sign-off"):
        cases.fire_trigger(act(team.supervisor), case.id, "approve_termination")


def test_decision_on_a_changed_case_must_look_again(team, make):
    from caseflow.errors import Conflict

    case = make.case(team.facilitator, to="termination_review")
    cases.log_step(act(team.facilitator), case.id, a_step())
    with pytest.raises(Conflict, match="Look at it again"):
        cases.decide_sign_off(act(team.supervisor), case.pending_sign_off.id, {"decision": "approve"})


def test_reopen_needs_a_reason_and_a_supervisor(team, make):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    with pytest.raises(NotAllowed):
        cases.fire_trigger(act(team.facilitator), case.id, "reopen", {"reason": "x"})
    with pytest.raises(ValidationError, match="reason"):
        cases.fire_trigger(act(team.supervisor), case.id, "reopen")
    cases.fire_trigger(act(team.supervisor), case.id, "reopen", {"reason": "Klien kembali"})
    db.session.refresh(case)
    assert case.state == "assessment" and case.closed_at is None and case.termination is None


def test_stale_version_is_a_conflict_and_nothing_changes(team, make):
    from caseflow.errors import Conflict

    case = make.case(team.facilitator)
    with pytest.raises(Conflict) as refused:
        cases.fire_trigger(act(team.facilitator), case.id, "start_assessment", expected_version=0)
    assert refused.value.extra["current"]["state"] == "recorded"
    db.session.refresh(case)
    assert case.state == "recorded" and case.version == 1


def test_step_logged_in_facilitator_zone_and_stored_in_utc(team, make):
    from datetime import UTC, datetime

    from caseflow.database import simulated_time

    with simulated_time(datetime(2026, 1, 2, tzinfo=UTC)):  # a step is not long before its case
        case = make.case(team.facilitator)
    step = cases.log_step(act(team.facilitator), case.id, a_step(occurred_at="2026-01-05T10:00:00"))
    # Papua (91) is WIT, UTC+9.
    assert step.occurred_at.isoformat() == "2026-01-05T01:00:00+00:00"
    assert step.occurred_timezone == "Asia/Jayapura"


def test_step_refused_on_closed_case_and_for_unknown_goal(team, make):
    # A resolved case takes steps during its aftercare (tests/services/test_aftercare.py).
    case = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
    with pytest.raises(InvalidTransition, match="closed"):
        cases.log_step(act(team.facilitator), case.id, a_step())
    open_case = make.case(team.facilitator)
    with pytest.raises(ValidationError) as refused:
        cases.log_step(act(team.facilitator), open_case.id, a_step(goal_id=12345))
    assert "goal_id" in refused.value.fields


def test_invalid_step_names_fields(team, make):
    case = make.case(team.facilitator)
    with pytest.raises(ValidationError) as refused:
        cases.log_step(act(team.facilitator), case.id, {"step_type": "magic", "notes": ""})
    assert set(refused.value.fields) >= {"step_type", "occurred_at", "notes"}


def test_reassign_within_team_only(team, make):
    case = make.case(team.facilitator)
    with pytest.raises(ValidationError):
        cases.reassign_case(act(team.supervisor), case.id,
                            {"facilitator_id": team.other_facilitator.id, "reason": "x"})
    cases.reassign_case(act(team.supervisor), case.id, {"facilitator_id": team.facilitator2.id, "reason": "Cuti"})
    db.session.refresh(case)
    assert case.facilitator_id == team.facilitator2.id
    with pytest.raises(NotFound):
        cases.log_step(act(team.facilitator), case.id, a_step())


def test_available_actions_follow_role_and_guards(team, make):
    case = make.case(team.facilitator, to="assessment")
    actions = cases.available_actions(team.facilitator, [case])[case.id]
    assert [a.trigger for a in actions] == ["complete_assessment"]
    assert not actions[0].enabled
    assert cases.available_actions(team.supervisor, [case])[case.id] == []


def test_every_change_appends_one_linked_audit_event(team, make):
    from sqlalchemy import select

    from caseflow.models import AuditEvent

    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq)
    ).scalars().all()
    actions = [e.action for e in events]
    assert actions[0] == "case.opened"
    assert actions.count("case.transition") == 6
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    # The approval is the last transition; the aftercare it starts follows it in the chain.
    assert actions[-1] == "aftercare.started"
    decision = [e for e in events if e.action == "case.transition"][-1]
    assert decision.actor_id == team.supervisor.id and decision.actor_role == "supervisor"
    assert decision.before["state"] == "termination_review" and decision.after["state"] == "resolved"


def test_a_step_whose_receiver_fails_leaves_no_audit_event_behind(team, make):
    from caseflow.models import AuditEvent
    from caseflow.services.audit import verify_case_chain
    from caseflow.signals import step_logged

    case = make.case(team.facilitator)

    def failing(_case, **_kwargs):
        raise RuntimeError("a receiver failed")

    step_logged.connect(failing)
    try:
        with pytest.raises(RuntimeError):
            cases.log_step(act(team.facilitator), case.id, a_step())
    finally:
        step_logged.disconnect(failing)
    # The same session logs the next step: its event follows the last one written, and the
    # failed step's event, linked but never written, is not written with it.
    cases.log_step(act(team.facilitator), case.id, a_step())
    logged = db.session.scalars(select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "step.logged")).all()
    assert len(logged) == 1
    assert verify_case_chain(case.id).ok
