"""`caseflow backup` / `caseflow restore`: what was saved comes back, later changes are
gone, and the restored audit trail verifies (SQLite always; PostgreSQL with pg_dump)."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import AuditEvent, Case
from caseflow.services import cases
from caseflow.services.audit import create_checkpoint, verify_everything
from caseflow.services.context import Actor
from tests.support.factories import a_step
from tests.support.queries import count


@pytest.fixture(autouse=True)
def _needs_tools(backend):
    if backend == "postgres" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore not installed")


def test_backup_and_restore_round_trip_and_the_chain_verifies(app, make, team, tmp_path):
    runner = app.test_cli_runner()
    kept = make.case(team.facilitator, to="planning")
    create_checkpoint(force=True)
    target = tmp_path / "backups" / "caseflow.backup"
    made = runner.invoke(args=["backup", str(target)])
    assert made.exit_code == 0, made.output
    assert target.stat().st_size > 0
    cases_then, events_then = count(Case), count(AuditEvent)

    later_id = make.case(team.facilitator2, to="assessment").id
    cases.log_step(Actor(user=team.facilitator), kept.id, a_step())
    assert count(Case) == cases_then + 1

    refused = runner.invoke(args=["restore", str(target)])
    assert refused.exit_code == 2  # needs --yes
    restored = runner.invoke(args=["restore", str(target), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "OK: the restored audit trail verifies" in restored.output
    assert count(Case) == cases_then
    assert db.session.get(Case, later_id) is None
    # The backup holds its own "backup.created" event; the restore adds "backup.restored".
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.chain == "system")).scalars().all()
    assert actions[-2:] == ["backup.created", "backup.restored"]
    assert count(AuditEvent) == events_then + 1
    assert verify_everything().ok


def test_backup_refuses_to_overwrite_and_restore_refuses_garbage(app, tmp_path):
    runner = app.test_cli_runner()
    existing = tmp_path / "exists.backup"
    existing.write_text("keep me")
    result = runner.invoke(args=["backup", str(existing)])
    assert result.exit_code == 1 and "exists already" in result.output
    assert existing.read_text() == "keep me"
    result = runner.invoke(args=["restore", str(existing), "--yes"])
    assert result.exit_code == 1
    assert "not a" in result.output
