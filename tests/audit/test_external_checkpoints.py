"""Checkpoints kept outside the database expose a database put back to an older copy
(caseflow.audit.external: pure, no Flask)."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

from caseflow.audit import external
from caseflow.audit.verify import VerificationReport

WHEN = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def logged(path, *checkpoints: tuple[int, str]) -> None:
    for checkpoint_id, digest in checkpoints:
        external.append(path, external.checkpoint_line(checkpoint_id, WHEN, digest, "prev", 3))


def compare(path, database: dict[int, str]) -> list[str]:
    report = VerificationReport()
    external.verify_against_external(database, external.read_log(path), report)
    assert all(problem.kind == "rollback" for problem in report.problems)
    return [str(problem) for problem in report.problems]


def test_a_database_holding_every_logged_checkpoint_passes(tmp_path):
    path = tmp_path / "audit_checkpoints.log"
    logged(path, (1, "a"), (2, "b"))
    assert compare(path, {1: "a", 2: "b", 3: "c"}) == []  # sealed since, not yet logged: fine
    assert compare(tmp_path / "no-log-yet", {1: "a"}) == []


def test_a_database_older_than_the_log_is_named(tmp_path):
    path = tmp_path / "audit_checkpoints.log"
    logged(path, (1, "a"), (2, "b"), (3, "c"))
    [problem] = compare(path, {1: "a"})
    assert "newest checkpoint is 1, but checkpoint 3 was sealed" in problem
    assert "audit_checkpoints.log line 3" in problem


def test_checkpoints_sealed_again_after_a_rollback_differ_from_the_logged_ones(tmp_path):
    path = tmp_path / "audit_checkpoints.log"
    logged(path, (1, "a"), (2, "b"), (3, "c"))
    [problem] = compare(path, {1: "a", 2: "x", 3: "y"})
    assert "different checkpoint 2" in problem and "1 more differ" in problem


def test_a_removed_checkpoint_a_forced_rollback_and_a_damaged_line_are_reported(tmp_path):
    path = tmp_path / "audit_checkpoints.log"
    logged(path, (1, "a"), (2, "b"))
    external.append(path, {"kind": "rollback", "at": "2026-05-02T00:00:00.000000Z", "backup": "old.backup",
                           "discarded_events": 7, "newest_event_at": None, "lost_checkpoint": 2})
    with open(path, "ab") as handle:
        handle.write(b'{"kind": "checkpoint", "id": \n')
    problems = compare(path, {1: "a", 3: "c"})
    assert any("line 4: not readable" in p for p in problems)
    assert any("older backup old.backup" in p and "7 audit event(s)" in p for p in problems)
    assert any("checkpoint 2, sealed at" in p and "missing" in p for p in problems)


def test_the_log_is_created_owner_only_and_only_appended_to(tmp_path):
    previous = os.umask(0o022)
    try:
        path = tmp_path / "instance" / "audit_checkpoints.log"
        logged(path, (1, "a"))
        logged(path, (2, "b"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [c.id for c in external.read_log(path).checkpoints] == [1, 2]
