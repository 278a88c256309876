"""Health status and notes on violence and trafficking are encrypted at rest: the raw
database value, the audit trail and a copied database file do not reveal them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import Assessment, AuditEvent, Client
from caseflow.security.fields import MARKER, FieldKeyError, KeyRing, forget_keys, keyring, new_key
from caseflow.services import cases
from caseflow.services.context import Actor
from caseflow.services.privacy import export_client_data
from tests.support.factories import COMPLETE_ASSESSMENT
from tests.support.queries import raw

HEALTH = "HIV positif, terapi ARV sejak 2024"
PROTECTION = "Korban perdagangan orang (TPPO) di Batam, pelaku pamannya"


@pytest.fixture
def client_with_notes(make, team):
    return make.client(team.facilitator, health_notes=HEALTH)


@pytest.fixture
def assessed(make, team):
    case = make.case(team.facilitator, to="assessment")
    cases.save_assessment(Actor(user=team.facilitator), case.id, {**COMPLETE_ASSESSMENT, "protection_notes": PROTECTION})
    return case


def test_health_notes_are_stored_encrypted_and_read_back(client_with_notes):
    stored = raw("SELECT health_notes FROM clients WHERE id = :id", id=client_with_notes.id)
    assert stored.startswith("cf1:") and "HIV" not in stored
    db.session.expire_all()
    assert db.session.get(Client, client_with_notes.id).health_notes == HEALTH


def test_protection_notes_are_stored_encrypted_and_read_back(assessed):
    stored = raw("SELECT protection_notes FROM assessments WHERE case_id = :id", id=assessed.id)
    assert "TPPO" not in stored and "Batam" not in stored
    db.session.expire_all()
    assessment = db.session.execute(select(Assessment).where(Assessment.case_id == assessed.id)).scalar_one()
    assert assessment.protection_notes == PROTECTION


def test_the_audit_trail_records_only_that_a_note_exists(client_with_notes, assessed):
    payloads = " ".join(str(row) for row in db.session.execute(
        select(AuditEvent.before, AuditEvent.after, AuditEvent.context)).all())
    assert "HIV" not in payloads and "TPPO" not in payloads
    assert MARKER in payloads


def test_a_copied_sqlite_file_does_not_reveal_the_notes(app, client_with_notes, assessed):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite file")
    db.session.rollback()
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    content = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert b"Batam" not in content and b"terapi ARV" not in content
    assert client_with_notes.full_name.encode() in content  # the file was really read


def test_a_ciphertext_moved_to_another_field_does_not_decrypt(client_with_notes, assessed):
    stored = raw("SELECT health_notes FROM clients WHERE id = :id", id=client_with_notes.id)
    with pytest.raises(FieldKeyError, match="another field"):
        keyring().decrypt(stored, "assessments.protection_notes")


def test_keys_from_configuration_new_writes_use_the_first():
    old, new = new_key(), new_key()
    ring = KeyRing.from_text([new, old])
    earlier = KeyRing.from_text([old]).encrypt("rahasia", "clients.health_notes")
    assert ring.decrypt(earlier, "clients.health_notes") == "rahasia"
    assert ring.stored_key_id(ring.encrypt("x", "c")) == KeyRing.key_id(KeyRing.from_text([new]).keys[0])
    with pytest.raises(FieldKeyError, match="not configured"):
        KeyRing.from_text([new]).decrypt(earlier, "clients.health_notes")
    with pytest.raises(FieldKeyError):
        KeyRing.from_text(["short"])


def test_rotation_re_encrypts_everything_with_the_new_key(app, client_with_notes, assessed, tmp_path):
    key_file = Path(app.instance_path) / "field_keys"
    first_key = key_file.read_text().split()[0]
    runner = app.test_cli_runner()
    assert runner.invoke(args=["keys", "new"]).exit_code == 0
    new_first = key_file.read_text().split()
    assert len(new_first) == 2 and new_first[1] == first_key
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "clients.health_notes: 1 value(s) re-encrypted" in result.output
    assert "assessments.protection_notes: 1 value(s) re-encrypted" in result.output
    # The old key can go: everything still reads with the new one alone.
    key_file.write_text(new_first[0] + "\n")
    forget_keys()
    db.session.expire_all()
    assert db.session.get(Client, client_with_notes.id).health_notes == HEALTH
    again = runner.invoke(args=["keys", "rotate"])
    assert "clients.health_notes: 0 value(s)" in again.output
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "keys.rotated")).scalars().first()


def test_data_subject_export_holds_the_notes_in_clear(client_with_notes, team):
    case = cases.open_case(Actor(user=team.facilitator), {"client_id": client_with_notes.id,
                                                          "ppks_category_code": "P02"})
    cases.fire_trigger(Actor(user=team.facilitator), case.id, "start_assessment")
    cases.save_assessment(Actor(user=team.facilitator), case.id, {**COMPLETE_ASSESSMENT, "protection_notes": PROTECTION})
    exported = export_client_data(Actor(user=team.auditor), client_with_notes.id)
    assert exported["client"]["health_notes"] == HEALTH
    assert exported["cases"][0]["assessment"]["protection_notes"] == PROTECTION


def test_retention_erases_the_encrypted_notes_and_the_chain_still_verifies(make, team, monkeypatch):
    from datetime import timedelta

    from caseflow.database import simulated_time, utcnow
    from caseflow.services.audit import verify_everything
    from caseflow.services.privacy import anonymise_closed_cases
    from tests.support.factories import Factory

    monkeypatch.setitem(COMPLETE_ASSESSMENT, "protection_notes", PROTECTION)
    monkeypatch.setattr(make, "client", lambda user, **kw: Factory.client(make, user, health_notes=HEALTH, **kw))
    with simulated_time(utcnow() - timedelta(days=800)):
        case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    assert db.session.get(Client, case.client_id).health_notes == HEALTH
    report = anonymise_closed_cases(Actor.cli(), older_than_days=365)
    assert case.client_id in report.clients
    assert raw("SELECT health_notes FROM clients WHERE id = :id", id=case.client_id) is None
    assert raw("SELECT protection_notes FROM assessments WHERE case_id = :id", id=case.id) is None
    assert verify_everything().ok
