"""The database refuses to change or delete audit rows (migration 0005_trust); this is the
one deliberate way around it, for maintenance and for tests that play the attacker.

On PostgreSQL the session sets `caseflow.maintenance = 'on'` for its transaction, which
the guard honours only for a superuser or a member of the role `caseflow_maintenance`.
On SQLite, which has no roles, the guard triggers are dropped and recreated inside the
same transaction, so no other connection ever sees the table unguarded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

TRIGGER_PREFIX = "caseflow_audit"


@contextmanager
def maintenance_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one committed transaction in which audit rows may be changed."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL caseflow.maintenance = 'on'")
            yield connection
            return
        triggers = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'caseflow\\_audit\\_%' ESCAPE '\\'"
        ).all()
        for name, _sql in triggers:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        yield connection
        for _name, sql in triggers:
            connection.exec_driver_sql(sql)


def guard_installed(connection: Connection) -> bool:
    if connection.dialect.name == "postgresql":
        return connection.exec_driver_sql(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'caseflow_audit_events_guard'").scalar() == 1
    return connection.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'caseflow_audit_events_no_delete'"
    ).scalar() == 1
