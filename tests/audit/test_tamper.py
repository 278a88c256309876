"""Altering, removing, inserting, reordering and truncating audit events is detected and named."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from caseflow.audit.chain import seal_event
from caseflow.extensions import db
from caseflow.models import AuditEvent
from caseflow.services.audit import case_chain, create_checkpoint, event_dicts, verify_everything
from caseflow.services.context import Actor
from tests.support.tamper import tamper


@pytest.fixture
def case(make, team, prepared):
    return prepared("the tampered case", lambda: make.case(team.facilitator, to="evaluation"))


def events_of(case_id):
    db.session.rollback()
    return list(event_dicts(AuditEvent.chain == case_chain(case_id)))


def test_untouched_history_verifies(case):
    report = verify_everything()
    assert report.ok, report.problems
    assert report.events >= 8


def test_altered_event_is_named(case):
    target = events_of(case.id)[2]
    tamper("UPDATE audit_events SET after = :after WHERE id = :id",
           after=json.dumps({"state": "resolved"}), id=target["id"])
    problem = verify_everything().first_problem
    assert problem.kind == "altered"
    assert problem.event_id == target["id"]
    assert f"event {target['id']}" in str(problem) and "altered" in str(problem)


def test_altered_actor_is_detected(case, team):
    target = events_of(case.id)[1]
    tamper("UPDATE audit_events SET actor_id = :who WHERE id = :id", who=team.supervisor.id, id=target["id"])
    assert verify_everything().first_problem.event_id == target["id"]


def test_removed_event_is_named(case):
    target = events_of(case.id)[3]
    tamper("DELETE FROM audit_events WHERE id = :id", id=target["id"])
    problem = verify_everything().first_problem
    assert problem.kind == "removed"
    assert f"#{target['seq']} is missing" in str(problem)


def test_removed_event_with_renumbering_is_detected(case):
    events = events_of(case.id)
    target = events[3]
    tamper("DELETE FROM audit_events WHERE id = :id", id=target["id"])
    for later in events[4:]:
        tamper("UPDATE audit_events SET seq = :seq WHERE id = :id", seq=later["seq"] - 1, id=later["id"])
    problem = verify_everything().first_problem
    assert problem is not None and problem.chain == case_chain(case.id)
    assert problem.seq == target["seq"]


def test_inserted_event_with_a_valid_hash_is_named(case):
    """The forger knows the hash function, recomputes the forged event's hash and makes room."""
    events = events_of(case.id)
    before = events[2]
    for later in reversed(events[3:]):
        tamper("UPDATE audit_events SET seq = :seq WHERE id = :id", seq=later["seq"] + 1, id=later["id"])
    forged = {**before, "id": None, "seq": before["seq"] + 1, "prev_hash": before["hash"],
              "action": "step.logged", "after": {"notes": "kunjungan palsu"},
              "before": None, "context": None, "origin_ip": None, "user_agent": None}
    seal_event(forged)
    tamper(
        "INSERT INTO audit_events (chain, seq, prev_hash, hash, occurred_at, actor_id, actor_role, "
        "action, case_id, after, payload_salt, payload_digest) VALUES (:chain, :seq, :prev_hash, :hash, "
        ":occurred_at, :actor_id, :actor_role, :action, :case_id, :after, :salt, :digest)",
        salt=forged["payload_salt"], digest=forged["payload_digest"],
        chain=forged["chain"], seq=forged["seq"], prev_hash=forged["prev_hash"], hash=forged["hash"],
        occurred_at=db.session.get(AuditEvent, before["id"]).occurred_at.replace(tzinfo=None)
        if db.engine.dialect.name == "sqlite" else db.session.get(AuditEvent, before["id"]).occurred_at,
        actor_id=forged["actor_id"], actor_role=forged["actor_role"], action=forged["action"],
        case_id=forged["case_id"], after=json.dumps(forged["after"]),
    )
    problem = verify_everything().first_problem
    assert problem.kind == "inserted"
    assert "inserted" in str(problem)


def test_reordered_events_are_named(case):
    events = events_of(case.id)
    first, second = events[2], events[3]
    tamper("UPDATE audit_events SET seq = -1 WHERE id = :id", id=first["id"])
    tamper("UPDATE audit_events SET seq = :seq WHERE id = :id", seq=first["seq"], id=second["id"])
    tamper("UPDATE audit_events SET seq = :seq WHERE id = :id", seq=second["seq"], id=first["id"])
    problem = verify_everything().first_problem
    assert problem.kind == "reordered"
    assert problem.event_id == second["id"]
    assert "reordered" in str(problem)


def test_truncated_chain_is_detected_by_the_heads(case):
    last = events_of(case.id)[-1]
    tamper("DELETE FROM audit_events WHERE id = :id", id=last["id"])
    problem = verify_everything().first_problem
    assert problem.kind == "truncated"
    assert f"should end at #{last['seq']}" in str(problem)


def test_truncation_hidden_in_the_heads_is_caught_by_the_signed_checkpoint(case):
    create_checkpoint(Actor.cli())
    events = events_of(case.id)
    last, new_last = events[-1], events[-2]
    tamper("DELETE FROM audit_events WHERE id = :id", id=last["id"])
    tamper("UPDATE cases SET audit_seq = :seq, audit_hash = :hash WHERE id = :id",
           seq=new_last["seq"], hash=new_last["hash"], id=case.id)
    report = verify_everything()
    assert not report.ok
    assert any(p.kind == "truncated" and "checkpoint" in str(p) for p in report.problems)


def test_altered_checkpoint_is_detected(case):
    checkpoint = create_checkpoint(Actor.cli())
    tamper("UPDATE audit_checkpoint_entries SET seq = 1 WHERE checkpoint_id = :id", id=checkpoint.id)
    report = verify_everything()
    assert any(p.kind == "checkpoint" for p in report.problems)


def test_audit_verify_cli_exits_non_zero_and_names_the_break(app, case):
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    target = events_of(case.id)[1]
    tamper("UPDATE audit_events SET action = 'case.opened' WHERE id = :id", id=target["id"])
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"event {target['id']}" in broken.output


def test_events_are_ordered_by_chain_and_seq(case):
    rows = db.session.execute(select(AuditEvent.seq).where(AuditEvent.case_id == case.id).order_by(AuditEvent.seq)).scalars().all()
    assert rows == list(range(1, len(rows) + 1))
