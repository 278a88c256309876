"""`caseflow backup` / `caseflow restore`: what was saved comes back and the restored audit
trail verifies (SQLite always; PostgreSQL with pg_dump); a backup older than the database's
history is refused unless forced, and a rollback — forced, or done behind the
application's back — is reported by `caseflow audit verify` from the checkpoints kept
outside the database. Backups and the database's files are readable by their owner only."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.models import AuditCheckpoint, AuditEvent, Case
from caseflow.security.backup import restore
from caseflow.services import cases
from caseflow.services.audit import create_checkpoint, verify_everything
from caseflow.services.context import Actor
from caseflow.services.evidence import export_case_package
from tests.support.factories import a_step
from tests.support.queries import count


@pytest.fixture(autouse=True)
def _needs_tools(backend):
    if backend == "postgres" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore not installed")


def checkpoint_log(app) -> Path:
    return Path(app.config.get("CASEFLOW_CHECKPOINT_LOG") or Path(app.instance_path) / "audit_checkpoints.log")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def world_readable_umask():
    """The usual umask (022), under which an ordinary file is created readable by all."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def backed_up(app, make, team, tmp_path):
    """A case and a checkpoint, then a backup of it: (backup file, cases then, the case kept)."""
    kept = make.case(team.facilitator, to="planning")
    create_checkpoint(force=True)
    target = tmp_path / "backups" / "caseflow.backup"
    made = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert made.exit_code == 0, made.output
    return target, count(Case), kept


def newer_work(make, team, kept) -> int:
    """Acknowledged work after the backup, sealed by a checkpoint; returns the new case's id."""
    later_id = make.case(team.facilitator2, to="assessment").id
    cases.log_step(Actor(user=team.facilitator), kept.id, a_step())
    create_checkpoint(force=True)
    return later_id


def verify(app, *args: str):
    db.session.rollback()
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def test_backup_and_restore_round_trip_and_the_chain_verifies(app, make, team, tmp_path):
    runner = app.test_cli_runner()
    target, cases_then, _kept = backed_up(app, make, team, tmp_path)
    assert target.stat().st_size > 0
    events_then = count(AuditEvent)

    refused = runner.invoke(args=["restore", str(target)])
    assert refused.exit_code == 2  # needs --yes
    restored = runner.invoke(args=["restore", str(target), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "OK: the restored audit trail verifies" in restored.output
    assert "ROLLED BACK" not in restored.output
    assert count(Case) == cases_then
    # The backup holds its own "backup.created" event; the restore adds "backup.restored".
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.chain == "system")).scalars().all()
    assert actions[-2:] == ["backup.created", "backup.restored"]
    assert count(AuditEvent) == events_then + 1
    assert verify_everything().ok
    assert verify(app).exit_code == 0


def test_restoring_an_older_backup_over_newer_work_is_refused_unless_forced(app, make, team, tmp_path):
    """Restoring used to discard acknowledged work silently, and `audit verify` still passed."""
    runner = app.test_cli_runner()
    target, cases_then, kept = backed_up(app, make, team, tmp_path)
    later_id = newer_work(make, team, kept)
    cases_now, events_now = count(Case), count(AuditEvent)

    refused = runner.invoke(args=["restore", str(target), "--yes"])
    assert refused.exit_code == 1
    assert "newer audit history" in refused.output and "--force" in refused.output
    assert "audit event(s) recorded after the backup" in refused.output and "checkpoint" in refused.output
    assert count(Case) == cases_now and count(AuditEvent) == events_now  # nothing was changed

    forced = runner.invoke(args=["restore", str(target), "--yes", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "ROLLED BACK" in forced.output
    assert count(Case) == cases_then and db.session.get(Case, later_id) is None
    restored_event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "backup.restored")).scalar_one()
    assert restored_event.context["forced_rollback"]["discarded_events"] > 0
    assert verify_everything(outside=False).ok  # the older copy is consistent in itself…

    result = verify(app)  # …but the rollback is not hidden
    assert result.exit_code == 1
    assert "BROKEN" in result.output and "older backup" in result.output


def test_a_rollback_behind_the_applications_back_is_reported_from_the_checkpoint_log(
        app, make, team, tmp_path):
    target, _cases_then, kept = backed_up(app, make, team, tmp_path)
    newer_work(make, team, kept)
    newest = db.session.execute(select(func.max(AuditCheckpoint.id))).scalar_one()
    assert verify(app).exit_code == 0

    db.session.remove()
    db.engine.dispose()
    restore(app.config["SQLALCHEMY_DATABASE_URI"], target)  # no `caseflow restore`, no record of it
    db.engine.dispose()

    result = verify(app)
    assert result.exit_code == 1
    assert f"checkpoint {newest} was sealed" in result.output and "older copy" in result.output
    # Checkpoints sealed again afterwards do not hide it: they differ from the logged ones.
    create_checkpoint(force=True)
    create_checkpoint(force=True)
    again = verify(app)
    assert again.exit_code == 1 and "different checkpoint" in again.output


def test_an_evidence_package_reveals_a_rollback_when_the_checkpoint_log_is_gone(app, make, team, tmp_path):
    target, _cases_then, kept = backed_up(app, make, team, tmp_path)
    newer_work(make, team, kept)
    package = tmp_path / "evidence.zip"
    package.write_bytes(export_case_package(Actor(user=team.auditor), kept.id).data)
    db.session.remove()
    db.engine.dispose()
    restore(app.config["SQLALCHEMY_DATABASE_URI"], target)
    db.engine.dispose()
    checkpoint_log(app).unlink()

    assert verify(app).exit_code == 0  # nothing outside the database remembers…
    result = verify(app, "--package", str(package))  # …but the auditor's package does
    assert result.exit_code == 1
    assert "evidence package evidence.zip" in result.output

    forged = tmp_path / "forged.zip"
    forged.write_bytes(package.read_bytes()[:-30])
    assert verify(app, "--package", str(forged)).exit_code == 2


def test_every_checkpoint_is_logged_outside_the_database_owner_only(app, make, team, world_readable_umask):
    make.case(team.facilitator)
    checkpoint = create_checkpoint(force=True)
    path = checkpoint_log(app)
    assert path.parent == Path(app.instance_path)
    line = json.loads(path.read_text().splitlines()[-1])
    assert line["id"] == checkpoint.id and line["digest"] == checkpoint.digest and line["heads"] >= 1
    assert mode(path) == 0o600


def test_a_checkpoint_is_logged_only_once_its_transaction_commits(app, make, team):
    from caseflow.database import write_transaction

    make.case(team.facilitator)
    path = checkpoint_log(app)
    with pytest.raises(RuntimeError), write_transaction():
        create_checkpoint(force=True)
        raise RuntimeError("the use case failed after sealing")
    assert not path.exists()  # no checkpoint, so nothing logged that the database lacks
    with write_transaction():
        sealed = create_checkpoint(force=True)
        assert not path.exists()
    assert json.loads(path.read_text())["id"] == sealed.id
    assert verify(app).exit_code == 0


def test_backups_are_readable_by_their_owner_only(app, tmp_path, world_readable_umask):
    target = tmp_path / "caseflow.backup"
    assert app.test_cli_runner().invoke(args=["backup", str(target)]).exit_code == 0
    assert mode(target) == 0o600


def test_the_sqlite_database_and_its_wal_are_created_owner_only(app, backend, tmp_path, world_readable_umask):
    if backend != "sqlite":
        pytest.skip("SQLite files")
    from caseflow import create_app

    path = tmp_path / "fresh" / "caseflow.sqlite3"
    path.parent.mkdir()
    fresh = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True,
                        "SECRET_KEY": "x", "CASEFLOW_AUDIT_KEY_PATH": str(tmp_path / "key.pem")})
    with fresh.app_context():
        with db.engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            connection.commit()
            for suffix in ("", "-wal", "-shm"):
                assert mode(Path(f"{path}{suffix}")) == 0o600, suffix
        db.engine.dispose()


def test_the_generated_keys_are_created_owner_only(app, tmp_path, world_readable_umask):
    from caseflow.config import _instance_secret
    from caseflow.security.fields import KEY_FILE, forget_keys, keyring
    from caseflow.services.audit import signing_key

    instance = Path(app.instance_path)
    _instance_secret(instance, "secret_key")
    signing_key()
    forget_keys()
    keyring()
    for path in (instance / "secret_key", Path(app.config["CASEFLOW_AUDIT_KEY_PATH"]), instance / KEY_FILE):
        assert mode(path) == 0o600, path


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
