"""Work targets in the services: who sets which target, whose report who may open, and a
performance report signed only by the facilitator's supervisor, bound to its figures."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from caseflow.errors import Conflict, NotAllowed, NotFound, ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent, WorkTarget
from caseflow.models.agenda import figures_digest
from caseflow.reports import targets as progress
from caseflow.services import targets
from caseflow.services.context import Actor

MAY = progress.Period("month", date(2026, 5, 1))


def act(user) -> Actor:
    return Actor(user=user)


def a_target(facilitator, **overrides) -> dict:
    return {"facilitator_id": facilitator.id, "period_kind": "month", "period_start": "2026-05-01",
            "measure": "visits_made", "target": 6, "reason": "Wilayah pegunungan"} | overrides


def test_the_target_in_force_is_the_supervisors_for_the_period_else_the_national_one(team):
    targets.set_national_target(act(team.manager), {"period_kind": "month", "measure": "visits_made", "target": 8})
    targets.set_facilitator_target(act(team.supervisor), a_target(team.facilitator))
    found = progress.targets_for([team.facilitator.id, team.facilitator2.id], MAY)
    assert found[team.facilitator.id]["visits_made"] == {"target": 6, "own": True, "reason": "Wilayah pegunungan"}
    assert found[team.facilitator2.id]["visits_made"]["target"] == 8
    # Another period of the same facilitator: the national target again.
    june = progress.targets_for([team.facilitator.id], MAY.following())
    assert june[team.facilitator.id]["visits_made"]["target"] == 8
    assert db.session.execute(select(AuditEvent.action).where(
        AuditEvent.chain == f"user:{team.facilitator.id}", AuditEvent.action == "target.set")).scalar_one()


def test_only_the_supervisor_of_the_team_sets_a_facilitators_target_with_a_reason(team):
    with pytest.raises(ValidationError) as refused:
        targets.set_facilitator_target(act(team.supervisor), a_target(team.facilitator, reason=""))
    assert "reason" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        targets.set_facilitator_target(act(team.supervisor), a_target(team.facilitator, period_start="2026-05-02"))
    assert "period_start" in refused.value.fields
    with pytest.raises(NotFound) as refused:
        targets.set_facilitator_target(act(team.other_supervisor), a_target(team.facilitator))
    assert "facilitator_id" in refused.value.fields
    for outsider in (team.facilitator, team.auditor, team.manager, team.admin):
        with pytest.raises(NotAllowed):
            targets.set_facilitator_target(act(outsider), a_target(team.facilitator))
    for outsider in (team.supervisor, team.facilitator, team.admin):
        with pytest.raises(NotAllowed):
            targets.set_national_target(act(outsider), {"period_kind": "month", "measure": "visits_made",
                                                        "target": 1})
    assert db.session.execute(select(WorkTarget)).first() is None


def test_a_report_is_opened_by_its_facilitator_and_their_supervisor_only(team):
    assert targets.report_subject(act(team.facilitator), team.facilitator.id).id == team.facilitator.id
    assert targets.report_subject(act(team.supervisor), team.facilitator.id).id == team.facilitator.id
    with pytest.raises(NotFound):
        targets.report_subject(act(team.facilitator2), team.facilitator.id)
    with pytest.raises(NotFound):
        targets.report_subject(act(team.other_supervisor), team.facilitator.id)
    for outsider in (team.auditor, team.manager, team.admin):
        with pytest.raises(NotAllowed):
            targets.report_subject(act(outsider), team.facilitator.id)


def test_the_signature_is_bound_to_the_figures_shown_and_given_once(team):
    [row] = progress.progress_rows([team.facilitator], MAY)
    figures = progress.report_figures(row, MAY)
    with pytest.raises(Conflict):
        targets.sign_performance_report(act(team.supervisor), team.facilitator.id, figures, "0" * 64)
    with pytest.raises(NotAllowed):
        targets.sign_performance_report(act(team.facilitator), team.facilitator.id, figures, figures_digest(figures))
    with pytest.raises(NotFound):
        targets.sign_performance_report(act(team.other_supervisor), team.facilitator.id, figures,
                                        figures_digest(figures))
    signed = targets.sign_performance_report(act(team.supervisor), team.facilitator.id, figures,
                                             figures_digest(figures), "Baik")
    assert signed.figures == figures and signed.period_start == MAY.start
    with pytest.raises(Conflict):
        targets.sign_performance_report(act(team.supervisor), team.facilitator.id, figures, figures_digest(figures))
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "performance_report.signed")).scalar_one()
    assert event.chain == f"user:{team.facilitator.id}" and event.actor_id == team.supervisor.id


def test_periods_follow_the_calendar():
    assert progress.period_containing("quarter", date(2026, 11, 17)) == progress.Period("quarter", date(2026, 10, 1))
    assert progress.Period("quarter", date(2026, 10, 1)).end == date(2026, 12, 31)
    assert progress.Period("month", date(2026, 12, 1)).following().start == date(2027, 1, 1)
    assert progress.Period("year", date(2026, 1, 1)).previous().label == "2025"
    assert progress.parse_period("week", "²", date(2026, 2, 14)) == progress.Period("month", date(2026, 2, 1))
