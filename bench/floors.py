"""The raw-SQL floor of a transition, shared by bench/transitions.py and bench/load.py.

One transition at its cheapest: in one transaction through the bare driver, (optionally)
lock the case row, update it and insert its audit event, then commit. Whatever the
service layer does beyond this is its own cost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

INSERT_EVENT = (
    "INSERT INTO audit_events (chain, seq, prev_hash, hash, occurred_at, action, case_id, before, "
    "after, payload_salt, payload_digest) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def raw_transition_postgres(connection, case_id: int, *, lock: bool = False) -> None:
    """One transition on a psycopg 3 connection: [SELECT … FOR UPDATE,] UPDATE, INSERT, COMMIT.

    It writes a state no workflow knows and an audit event on a chain of its own
    (`floor:<case id>`): run it only on a database made for benchmarking."""
    now = datetime.now(UTC)
    with connection.transaction():
        if lock:
            connection.execute("SELECT id, state, version FROM cases WHERE id = %s FOR UPDATE",
                               (case_id,)).fetchone()
        connection.execute(
            "UPDATE cases SET state = %s, stage_entered_at = %s, stage_due_at = %s, version = version + 1 WHERE id = %s",
            ("floor", now, now + timedelta(days=14), case_id),
        )
        connection.execute(
            INSERT_EVENT,
            (f"floor:{case_id}", 1, "0" * 64, "1" * 64, now, "case.transition", case_id,
             json.dumps({"state": "assessment"}), json.dumps({"state": "floor"}), "0" * 32, "2" * 64),
        )
