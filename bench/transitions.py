"""Fire-a-trigger with its audit event through the service layer, against the raw-SQL floor.

The floor is the same UPDATE of the case and INSERT of the audit event, in one transaction
per trigger, through the bare driver with the same durability settings (SQLite: WAL,
synchronous=FULL; PostgreSQL: the server's defaults, fsync on commit). Also times "which
actions can this actor take on these 1,000 cases".

    .venv/bin/python bench/transitions.py [--events 1000] [--postgres URL] [--profile N]

Prints events/s for both and their ratio (target: service ≥ 0.4 × floor) per database, the
statements the service sends per trigger and the time per event spent in COMMIT (the floor's
too on SQLite), and on SQLite how many pages each event adds to the write-ahead log (what a
COMMIT writes and syncs). With --profile, the service's events run under
cProfile (its rate is then the profiled one) and the N costliest functions are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

# This file is named like the `transitions` library: run from the project root, not bench/.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import sqlalchemy as sa  # noqa: E402

from caseflow import create_app  # noqa: E402
from caseflow.database import keep_through_writes  # noqa: E402
from caseflow.extensions import db  # noqa: E402
from caseflow.services import cases as case_services  # noqa: E402
from caseflow.services.context import Actor  # noqa: E402
from caseflow.services.reference import seed_reference_data  # noqa: E402
from caseflow.services.users import create_user  # noqa: E402


def build_app(url: str, instance: Path):
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        seed_reference_data()
    return app


def make_cases(app, count: int):
    with app.app_context():
        supervisor = create_user(Actor.cli(), {"username": f"sup{uuid.uuid4().hex[:6]}", "full_name": "S",
                                              "role": "supervisor", "password": "bench-Password-2026", "province_code": "91"})
        facilitator = create_user(Actor.cli(), {"username": f"fac{uuid.uuid4().hex[:6]}", "full_name": "F",
                                               "role": "facilitator", "password": "bench-Password-2026",
                                               "province_code": "91", "supervisor_id": supervisor.id})
        from caseflow.services.clients import register_client

        me = Actor(user=facilitator)
        ids = []
        for number in range(count):
            client = register_client(me, {"full_name": f"K{number}", "birth_date": "1980-01-01", "sex": "M",
                                          "province_code": "91", "consent_given_by": "k",
                                          "consent_confirmed": True})
            ids.append(case_services.open_case(me, {"client_id": client.id, "ppks_category_code": "P02"}).id)
        return facilitator.id, ids


def service_rate(app, facilitator_id: int, case_ids: list[int], profile: int = 0) -> tuple[float, float, float]:
    """Events/s firing `start_assessment` on each case, the statements sent per event (as
    SQLAlchemy sends them: SQLite's BEGIN is one, PostgreSQL's BEGIN and either's COMMIT are
    not) and the seconds per event spent in the driver's COMMIT."""
    with app.app_context():
        from caseflow.models import User

        user = db.session.get(User, facilitator_id)
        # As in a request: the signed-in user, read at its start, is kept through its writes.
        keep_through_writes(user, user.province)
        actor = Actor(user=user)
        sent = [0]
        committing = [0.0]

        def count(*_args) -> None:
            sent[0] += 1

        dialect = db.engine.dialect
        commit = dialect.do_commit

        def timed_commit(dbapi_connection) -> None:
            started = time.perf_counter()
            commit(dbapi_connection)
            committing[0] += time.perf_counter() - started

        sa.event.listen(db.engine, "before_cursor_execute", count)
        dialect.do_commit = timed_commit  # this dialect instance only, for this run
        profiler = cProfile.Profile() if profile else None
        try:
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            for case_id in case_ids:
                case_services.fire_trigger(actor, case_id, "start_assessment")
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - start
        finally:
            del dialect.do_commit
            sa.event.remove(db.engine, "before_cursor_execute", count)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
    return len(case_ids) / elapsed, sent[0] / len(case_ids), committing[0] / len(case_ids)


def floor_rate_sqlite(path: str, case_ids: list[int], *, autocheckpoint: bool = True) -> tuple[float, float]:
    """Events/s of the floor on SQLite, and the seconds per event spent in its COMMIT."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    if not autocheckpoint:
        connection.execute("PRAGMA wal_autocheckpoint=0")
    committing = 0.0
    start = time.perf_counter()
    for case_id in case_ids:
        now = datetime.now(UTC).replace(tzinfo=None)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "UPDATE cases SET state = ?, stage_entered_at = ?, stage_due_at = ?, version = version + 1 WHERE id = ?",
            ("floor", now, now + timedelta(days=14), case_id),
        )
        connection.execute(
            "INSERT INTO audit_events (chain, seq, prev_hash, hash, occurred_at, action, case_id, before, after, "
            "payload_salt, payload_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"floor:{case_id}", 1, "0" * 64, "1" * 64, now, "case.transition", case_id,
             json.dumps({"state": "assessment"}), json.dumps({"state": "floor"}), "0" * 32, "2" * 64),
        )
        committed = time.perf_counter()
        connection.execute("COMMIT")
        committing += time.perf_counter() - committed
    elapsed = time.perf_counter() - start
    connection.close()
    return len(case_ids) / elapsed, committing / len(case_ids)


def log_frames_sqlite(app, path: str, facilitator_id: int, service_ids: list[int],
                      floor_ids: list[int]) -> tuple[float, float]:
    """Pages each event adds to SQLite's write-ahead log (what its COMMIT writes and syncs),
    service and floor, in a pass of their own with checkpoints held off so that the log
    only grows. Another connection of the app's stays open meanwhile: closing the last one
    would checkpoint the log away."""
    wal = Path(f"{path}-wal")

    def hold_checkpoints(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    def size() -> int:
        return wal.stat().st_size if wal.exists() else 0

    with app.app_context():
        db.engine.dispose()
        sa.event.listen(db.engine, "connect", hold_checkpoints)
        try:
            with db.engine.connect() as keeper:
                keeper.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                page = keeper.exec_driver_sql("PRAGMA page_size").scalar_one()
                frame = page + 24  # each frame: a 24-byte header and the page
                before = size()
                service_rate(app, facilitator_id, service_ids)
                service = (size() - before) / frame / len(service_ids)
                before = size()
                floor_rate_sqlite(path, floor_ids, autocheckpoint=False)
                floor = (size() - before) / frame / len(floor_ids)
        finally:
            sa.event.remove(db.engine, "connect", hold_checkpoints)
            db.engine.dispose()
    return service, floor


def floor_rate_postgres(url: str, case_ids: list[int]) -> float:
    import psycopg

    from bench.floors import raw_transition_postgres

    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        start = time.perf_counter()
        for case_id in case_ids:
            raw_transition_postgres(connection, case_id)
        elapsed = time.perf_counter() - start
    return len(case_ids) / elapsed, None


def available_actions_time(app, facilitator_id: int, case_ids: list[int]) -> tuple[float, float]:
    with app.app_context():
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        from caseflow.models import Case, InterventionPlan, User

        user = db.session.get(User, facilitator_id)
        start = time.perf_counter()
        loaded = db.session.execute(
            select(Case).where(Case.id.in_(case_ids[:1000])).options(
                selectinload(Case.facilitator), selectinload(Case.assessment),
                selectinload(Case.plan).selectinload(InterventionPlan.goals),
                selectinload(Case.evaluation), selectinload(Case.termination), selectinload(Case.steps),
            )
        ).scalars().all()
        actions = case_services.available_actions(user, loaded, check_guards=True)
        with_guards = time.perf_counter() - start
        assert len(actions) == len(loaded)
        start = time.perf_counter()
        case_services.available_actions(user, loaded, check_guards=False)
        without_guards = time.perf_counter() - start
    return with_guards, without_guards


def run(label: str, url: str, instance: Path, events: int, floor, profile: int = 0,
        frames=None) -> None:
    app = build_app(url, instance)
    extra = 100 if frames else 0
    facilitator_id, ids = make_cases(app, events * 2 + 1000 + 2 * extra)
    service_ids, floor_ids, action_ids = ids[:events], ids[events:2 * events], ids[2 * events:2 * events + 1000]
    service, statements, service_commit = service_rate(app, facilitator_id, service_ids, profile)
    floor_value, floor_commit = floor(floor_ids)
    with_guards, without_guards = available_actions_time(app, facilitator_id, action_ids)
    print(f"{label}: service {service:8.1f} events/s | raw-SQL floor {floor_value:8.1f} events/s | "
          f"ratio {service / floor_value:.2f} (target >= 0.40){' under cProfile' if profile else ''}")
    print(f"{label}: {statements:.1f} statements per event through the service (COMMIT not counted)")
    commits = f"{label}: per event, service {1000 / service:.3f} ms, of which COMMIT {service_commit * 1000:.3f}"
    if floor_commit is not None:
        commits += f" | floor {1000 / floor_value:.3f} ms, of which COMMIT {floor_commit * 1000:.3f}"
    print(commits)
    if frames:
        service_frames, floor_frames = frames(app, facilitator_id, ids[-2 * extra:-extra], ids[-extra:])
        print(f"{label}: write-ahead log pages per event (its COMMIT writes and syncs them): service "
              f"{service_frames:.1f}, floor {floor_frames:.1f} ({extra} events each, checkpoints held off)")
    print(f"{label}: available actions for 1,000 cases: {with_guards * 1000:.1f} ms with guards "
          f"(including loading the cases and their records), {without_guards * 1000:.1f} ms role/state only")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("CASEFLOW_TEST_POSTGRES_URL"))
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="run the service's events under cProfile and print its N costliest functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.sqlite3"
        run("SQLite", f"sqlite:///{path}", Path(directory), args.events,
            lambda ids: floor_rate_sqlite(str(path), ids), args.profile,
            lambda *given: log_frames_sqlite(given[0], str(path), *given[1:]))
    if args.postgres:
        name = f"caseflow_bench_{uuid.uuid4().hex[:8]}"
        base = sa.engine.make_url(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
        try:
            with tempfile.TemporaryDirectory() as directory:
                run("PostgreSQL", url, Path(directory), args.events, lambda ids: floor_rate_postgres(url, ids),
                    args.profile)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        print("PostgreSQL: skipped (pass --postgres URL or set CASEFLOW_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
