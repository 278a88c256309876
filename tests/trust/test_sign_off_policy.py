"""Sign-off policies: working-day deadlines (Indonesian weekends, configured holidays),
escalation with in-app notification, and acting supervisors for a date range."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from sqlalchemy import select

from caseflow.database import simulated_time, utcnow
from caseflow.errors import NotAllowed, NotFound, ValidationError, WorkflowDefinitionError
from caseflow.extensions import db
from caseflow.models import AuditEvent, SignOff
from caseflow.models.sign_off_policy import SignOffEscalation
from caseflow.services import access, cases
from caseflow.services.context import Actor
from caseflow.services.sign_off_policy import (
    add_working_days,
    delegate_supervisor,
    escalate_overdue_sign_offs,
    notification_text,
    notifications_for,
    revoke_delegation,
    sign_off_due_at,
)
from caseflow.workflow import parse_workflow
from tests.support.apps import ROOT

MONDAY = date(2026, 8, 10)


def test_working_days_skip_weekends_and_holidays():
    assert add_working_days(MONDAY, 3, frozenset()) == date(2026, 8, 13)  # Thursday
    friday = date(2026, 8, 14)
    assert add_working_days(friday, 1, frozenset()) == date(2026, 8, 17)  # over the weekend
    # 17 August, Independence Day, is a holiday when configured.
    assert add_working_days(friday, 1, frozenset({date(2026, 8, 17)})) == date(2026, 8, 18)


def _workflow_with(**sign_off):
    raw = yaml.safe_load((ROOT / "workflows" / "rehabilitation.yaml").read_text())
    for transition in raw["transitions"]:
        if "sign_off" in transition:
            transition["sign_off"].update(sign_off)
    return raw


def test_workflow_file_declares_deadline_and_escalation():
    definition = parse_workflow(_workflow_with(), "rehabilitation.yaml")
    policy = definition.sign_off_policy("request_termination")
    assert policy.within_working_days == 3 and policy.escalate_to == "supervisors_supervisor"


@pytest.mark.parametrize("bad, field", [
    ({"within_working_days": 0}, "within_working_days"),
    ({"within_working_days": "tiga"}, "within_working_days"),
    ({"escalate_to": "the_boss"}, "escalate_to"),
    ({"within_working_days": None, "escalate_to": "admin"}, "escalate_to"),
])
def test_invalid_sign_off_policies_are_refused_when_loading(bad, field):
    with pytest.raises(WorkflowDefinitionError) as error:
        parse_workflow(_workflow_with(**bad), "rehabilitation.yaml")
    assert field in str(error.value)


# --- escalation ---------------------------------------------------------------------


@pytest.fixture
def coordinated(make, team):
    """The team's supervisor has a supervisor of their own (a coordinator)."""
    coordinator = make.user("supervisor", province="91", username="koordinator")
    from caseflow.models import User

    supervisor = db.session.get(User, team.supervisor.id)
    supervisor.supervisor_id = coordinator.id  # set up directly: the account form is not this test's subject
    db.session.commit()
    return coordinator


def requested_on(make, team, moment: datetime):
    with simulated_time(moment):
        case = make.case(team.facilitator, to="termination_review")
    return case, case.pending_sign_off


def test_sign_off_is_due_after_three_working_days_in_the_province_zone(make, team):
    # Requested Monday 10:00 WIT (Papua, UTC+9).
    case, sign_off = requested_on(make, team, datetime(2026, 8, 10, 1, 0, tzinfo=UTC))
    assert sign_off_due_at(sign_off) == datetime(2026, 8, 13, 15, 0, tzinfo=UTC)  # Thursday 24:00 WIT


def test_overdue_sign_off_is_escalated_once_to_the_supervisors_supervisor(make, team, coordinated):
    case, sign_off = requested_on(make, team, datetime(2026, 8, 7, 2, 0, tzinfo=UTC))  # a Friday
    before_due = datetime(2026, 8, 12, 14, 0, tzinfo=UTC)  # Wednesday 23:00 WIT: not yet
    assert escalate_overdue_sign_offs(now=before_due) == []
    done = escalate_overdue_sign_offs(now=datetime(2026, 8, 12, 15, 1, tzinfo=UTC))
    assert [(d.sign_off_id, d.to_user_ids) for d in done] == [(sign_off.id, (coordinated.id,))]
    assert escalate_overdue_sign_offs(now=datetime(2026, 8, 20, tzinfo=UTC)) == []  # once
    notes = notifications_for(coordinated)
    assert notes and notes[0].kind == "sign_off.escalated" and case.number in notification_text(notes[0])
    assert notifications_for(team.supervisor)[0].kind == "sign_off.overdue"
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "sign_off.escalated")).scalar_one()
    assert event.case_id == case.id and event.context["escalated_to"] == coordinated.id


def test_the_supervisors_supervisor_may_decide_after_escalation_and_it_shows(make, team, coordinated):
    case, sign_off = requested_on(make, team, datetime(2026, 8, 7, 2, 0, tzinfo=UTC))
    with pytest.raises(NotFound):  # not their team, not escalated yet
        cases.decide_sign_off(Actor(user=coordinated), sign_off.id, {"decision": "approve"})
    escalate_overdue_sign_offs(now=datetime(2026, 8, 20, tzinfo=UTC))
    assert sign_off.id in [s.id for s in cases.pending_sign_offs_for(coordinated)]
    assert access.can_view_case(coordinated, case)
    cases.decide_sign_off(Actor(user=coordinated), sign_off.id, {"decision": "approve"})
    db.session.refresh(case)
    assert case.state == "resolved"
    event = db.session.execute(select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "case.transition").order_by(AuditEvent.id.desc())).scalars().first()
    assert event.context["escalated_to"] == coordinated.id


def test_without_a_supervisors_supervisor_the_administrators_are_notified(make, team):
    requested_on(make, team, datetime(2026, 8, 7, 2, 0, tzinfo=UTC))
    done = escalate_overdue_sign_offs(now=datetime(2026, 8, 20, tzinfo=UTC))
    assert done[0].to_role == "admin" and team.admin.id in done[0].to_user_ids
    assert db.session.execute(select(SignOffEscalation)).scalar_one().escalated_to_id is None


def test_escalate_command(app, make, team, coordinated):
    requested_on(make, team, utcnow() - timedelta(days=14))
    result = app.test_cli_runner().invoke(args=["sign-offs", "escalate"])
    assert result.exit_code == 0, result.output
    assert "1 sign-off(s) escalated" in result.output


# --- delegation ---------------------------------------------------------------------


def delegate(team, starts_on=None, ends_on=None, **extra):
    today = utcnow().date()
    return delegate_supervisor(Actor(user=team.supervisor), {
        "acting_id": team.other_supervisor.id, "starts_on": str(starts_on or today - timedelta(days=1)),
        "ends_on": str(ends_on or today + timedelta(days=7)), "reason": "Cuti melahirkan", **extra})


def test_acting_supervisor_decides_during_the_delegation_and_it_shows(make, team):
    case = make.case(team.facilitator, to="termination_review")
    acting = Actor(user=team.other_supervisor)
    with pytest.raises(NotFound):
        cases.decide_sign_off(acting, case.pending_sign_off.id, {"decision": "approve"})
    delegation = delegate(team)
    assert access.can_view_case(team.other_supervisor, case)
    assert case.pending_sign_off.id in [s.id for s in cases.pending_sign_offs_for(team.other_supervisor)]
    cases.decide_sign_off(acting, case.pending_sign_off.id, {"decision": "approve"})
    event = db.session.execute(select(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "case.transition").order_by(AuditEvent.id.desc())).scalars().first()
    assert event.context["acting_for"] == team.supervisor.id
    assert event.context["delegation_id"] == delegation.id
    created = db.session.execute(select(AuditEvent).where(AuditEvent.action == "delegation.created")).scalars().all()
    assert {e.chain for e in created} == {f"user:{team.supervisor.id}", f"user:{team.other_supervisor.id}"}
    assert notifications_for(team.other_supervisor)[0].kind == "delegation.created"


def test_delegation_outside_its_dates_or_revoked_gives_nothing(make, team):
    case = make.case(team.facilitator, to="termination_review")
    today = utcnow().date()
    delegate(team, starts_on=today + timedelta(days=3), ends_on=today + timedelta(days=5))
    assert not access.can_view_case(team.other_supervisor, case)
    current = delegate(team)
    assert access.can_view_case(team.other_supervisor, case)
    revoke_delegation(Actor(user=team.supervisor), current.id)
    assert not access.can_view_case(team.other_supervisor, case)
    with pytest.raises(NotFound):
        cases.decide_sign_off(Actor(user=team.other_supervisor), case.pending_sign_off.id, {"decision": "approve"})


def test_delegation_rules(team):
    with pytest.raises(NotAllowed):
        delegate_supervisor(Actor(user=team.facilitator), {"acting_id": team.other_supervisor.id})
    with pytest.raises(ValidationError) as error:
        delegate(team, acting_id=team.facilitator2.id)
    assert "acting_id" in error.value.fields
    for field in ("acting_id", "supervisor_id"):  # beyond INTEGER: PostgreSQL could not look it up
        with pytest.raises(ValidationError) as error:
            delegate(team, **{field: 2**31})
        assert field in error.value.fields
    with pytest.raises(ValidationError) as error:
        delegate(team, starts_on=date(2026, 9, 10), ends_on=date(2026, 9, 1))
    assert "ends_on" in error.value.fields
    with pytest.raises(NotAllowed):
        delegate_supervisor(Actor(user=team.supervisor), {
            "supervisor_id": team.other_supervisor.id, "acting_id": team.supervisor.id,
            "starts_on": "2026-09-01", "ends_on": "2026-09-02", "reason": "x"})


def test_four_eyes_still_holds_for_an_acting_supervisor(make, team):
    """An acting supervisor who requested the termination themselves cannot decide it."""
    case = make.case(team.facilitator, to="termination_review")
    delegate(team)
    sign_off = db.session.get(SignOff, case.pending_sign_off.id)
    assert sign_off.requested_by_id == team.facilitator.id
    with pytest.raises(NotAllowed):
        cases.decide_sign_off(Actor(user=team.facilitator), sign_off.id, {"decision": "approve"})


# --- pages ---------------------------------------------------------------------------


def test_supervisor_names_an_acting_supervisor_and_ends_it_from_the_page(signed_in, team):
    client = signed_in(team.supervisor)
    assert client.get("/delegations").status_code == 200
    today = utcnow().date()
    bad = client.post("/delegations", data={"acting_id": str(team.other_supervisor.id), "starts_on": str(today),
                                            "ends_on": "besok", "reason": "Cuti"})
    assert bad.status_code == 422 and 'id="f-ends-on-error-1"' in bad.text
    saved = client.post("/delegations", data={"acting_id": str(team.other_supervisor.id), "starts_on": str(today),
                                              "ends_on": str(today + timedelta(days=3)), "reason": "Cuti tahunan"})
    assert saved.status_code == 303
    page = client.get("/delegations")
    assert team.other_supervisor.full_name in page.text and "Cuti tahunan" in page.text
    from caseflow.models.sign_off_policy import Delegation

    delegation = db.session.execute(select(Delegation)).scalar_one()
    assert client.post(f"/delegations/{delegation.id}/end").status_code == 303
    db.session.rollback()
    assert db.session.get(Delegation, delegation.id).revoked_at is not None
    assert signed_in(team.facilitator).get("/delegations").status_code == 403


def test_notifications_page_shows_and_marks_read(signed_in, make, team):
    delegate(team)
    client = signed_in(team.other_supervisor)
    page = client.get("/notifications")
    assert page.status_code == 200 and team.supervisor.full_name in page.text
    assert client.post("/notifications").status_code == 303
    db.session.rollback()
    assert all(n.read_at for n in notifications_for(team.other_supervisor))
