"""Data-subject export and retention: personal data goes, figures and the audit chain stay."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow.database import simulated_time, utcnow
from caseflow.errors import NotAllowed, NotFound
from caseflow.extensions import db
from caseflow.models import AuditEvent, Case, Client
from caseflow.services.audit import verify_everything
from caseflow.services.context import Actor
from caseflow.services.privacy import anonymise_closed_cases, export_client_data


def old_resolved_case(make, team, days_ago: int):
    with simulated_time(utcnow() - timedelta(days=days_ago)):
        return make.case(team.facilitator, to="resolved", supervisor=team.supervisor)


def test_export_holds_everything_about_the_client_and_is_audited(make, team):
    case = make.case(team.facilitator, to="evaluation")
    data = export_client_data(Actor(user=team.supervisor), case.client_id)
    assert data["client"]["nik"] == case.client.nik
    exported = data["cases"][0]
    assert exported["number"] == case.number
    assert exported["assessment"]["problem"] and exported["plan"]["goals"] and exported["steps"]
    assert any(e["action"] == "case.opened" for e in exported["audit_events"])
    json.dumps(data)  # plain JSON
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "client.data_exported")).scalar_one() == 1


def test_export_is_refused_outside_scope(make, team):
    case = make.case(team.facilitator)
    with pytest.raises(NotAllowed):
        export_client_data(Actor(user=team.facilitator), case.client_id)
    with pytest.raises(NotFound):
        export_client_data(Actor(user=team.other_supervisor), case.client_id)
    with pytest.raises(NotFound):
        export_client_data(Actor(user=team.province_auditor), case.client_id)


def test_retention_erases_personal_data_and_keeps_figures_and_chain(make, team):
    old = old_resolved_case(make, team, days_ago=400)
    recent = old_resolved_case(make, team, days_ago=10)
    still_open = make.case(team.facilitator, to="intervention")
    nik = old.client.nik

    report = anonymise_closed_cases(Actor.cli(), older_than_days=365)

    assert report.clients == [old.client_id]
    db.session.rollback()
    client = db.session.get(Client, old.client_id)
    assert client.full_name == "[anonim]" and client.nik is None and client.address == ""
    assert client.birth_date.year == 1985 and client.anonymised_at is not None
    case = db.session.get(Case, old.id)
    assert case.state == "resolved" and case.closed_at is not None  # the figures stay
    assert case.assessment.problem == "" and all(step.notes == "" for step in case.steps)
    assert case.evaluation.ratings[0].rating == "achieved"
    # the audit payloads about this person are erased, and marked so
    leaked = db.session.execute(
        select(AuditEvent).where(AuditEvent.case_id == old.id).order_by(AuditEvent.id)).scalars().all()
    assert all(e.redacted_at is not None for e in leaked if e.action != "case.anonymised")
    assert nik not in json.dumps([e.after for e in leaked], default=str)
    assert leaked[-1].action == "case.anonymised"
    # … and the chain still verifies
    assert verify_everything().ok
    # the others are untouched
    assert db.session.get(Client, recent.client_id).nik is not None
    assert db.session.get(Client, still_open.client_id).anonymised_at is None


def test_a_client_with_an_open_case_is_kept(make, team):
    old = old_resolved_case(make, team, days_ago=400)
    from caseflow.services import cases

    cases.open_case(Actor(user=team.facilitator), {"client_id": old.client_id, "ppks_category_code": "P02"})
    report = anonymise_closed_cases(Actor.cli(), older_than_days=365)
    assert report.clients == [] and report.skipped_clients == [old.client_id]


def test_cli_dry_run_changes_nothing(app, make, team):
    old = old_resolved_case(make, team, days_ago=400)
    result = app.test_cli_runner().invoke(args=["privacy", "anonymise", "--older-than-days", "365", "--dry-run"])
    assert result.exit_code == 0 and "would anonymise 1 client(s)" in result.output
    db.session.rollback()
    assert db.session.get(Client, old.client_id).anonymised_at is None
    result = app.test_cli_runner().invoke(args=["privacy", "anonymise", "--older-than-days", "0"])
    assert result.exit_code != 0
