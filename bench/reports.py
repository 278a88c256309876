"""Monitoring at scale: each dashboard's figures and pages, and a case list page, timed.

    CASEFLOW_DATABASE_URL=sqlite:////tmp/bench/db.sqlite3 .venv/bin/python bench/reports.py --cases 100000
    CASEFLOW_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/reports.py --cases 1000000

Creates the schema and generates cases (`caseflow generate`'s fast path) until the
database holds --cases, seals the months that are over (`caseflow reports seal`), then
times, per role: the figures alone computed live from the sealed months and the raw rest of
the period (median of --repeat runs; with --raw also computed from the raw tables only, for
comparison), the whole dashboard page computed live, and the page served from a snapshot;
and the case list pages. Targets: figures < 1 s per dashboard, a case list page < 200 ms.

With --month-end the clock is set to the last hour of the month that just ended, with that
month sealed only as far as the daily `caseflow reports seal` had got that morning (its
days before the last), then sealed whole again: the worst moment of a month, when most of
a day is raw.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path

# The repository root instead of bench/ (whose transitions.py would shadow the library).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from caseflow import create_app  # noqa: E402
from caseflow.database import simulated_time, utcnow  # noqa: E402
from caseflow.devdata.generator import generate_cases  # noqa: E402
from caseflow.extensions import db  # noqa: E402
from caseflow.models import (  # noqa: E402
    Case,
    CaseStageHistory,
    ReportMonthCell,  # noqa: E402
    ReportSealedMonth,
    Role,
    User,
)
from caseflow.reports import dashboard, sealing  # noqa: E402
from caseflow.reports import figures as fg  # noqa: E402
from caseflow.services.context import Actor  # noqa: E402
from caseflow.services.sealed_months import clear_sealed_months  # noqa: E402
from caseflow.services.users import create_user  # noqa: E402

PASSWORD = "Kopi-Tubruk-Lima-88"


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    return statistics.median(times), result


def bench_user(role: str, **extra) -> User:
    username = f"bench.{role}"
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        user = create_user(Actor.cli(), {"username": username, "full_name": f"Bench {role}", "role": role,
                                         "password": PASSWORD, "province_code": "31", **extra})
    return user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--raw", action="store_true", help="also time the figures from the raw tables only")
    parser.add_argument("--month-end", action="store_true",
                        help="time at the last hour of last month, with that month unsealed (the worst case)")
    args = parser.parse_args()
    url = os.environ.get("CASEFLOW_DATABASE_URL")
    if not url:
        sys.exit("Set CASEFLOW_DATABASE_URL to the database to benchmark (it will be filled).")
    app = create_app({"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "SESSION_COOKIE_SECURE": False})
    with app.app_context():
        upgrade(revision="heads")
        have = db.session.execute(select(func.count(Case.id))).scalar_one()
        if have < args.cases:
            start = time.perf_counter()
            made = generate_cases(args.cases - have, batch=args.batch, seal=False,
                                  progress=lambda n: print(".", end="", flush=True))
            print(f"\ngenerated {made} in {time.perf_counter() - start:.0f} s")
            clear_sealed_months()
        start = time.perf_counter()
        sealed = sealing.seal()
        if sealed:
            print(f"sealed {len(sealed)} months in {time.perf_counter() - start:.1f} s "
                  f"({(time.perf_counter() - start) / len(sealed):.2f} s a month)")
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does in a running system: fresh statistics and visibility maps
            # (index-only scans) after a bulk load.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        cells = db.session.execute(select(func.count(ReportMonthCell.id))).scalar_one()
        print(f"{len(sealing.sealed_months())} sealed months, {cells:,} cells")
        stays = db.session.execute(select(func.count(CaseStageHistory.id))).scalar_one()
        cases = db.session.execute(select(func.count(Case.id))).scalar_one()
        print(f"database: {db.engine.dialect.name}, {cases:,} cases, {stays:,} stage stays")
        supervisor = db.session.execute(
            select(User).where(User.role == Role.SUPERVISOR, User.username.like("gen%")).limit(1)).scalar_one()
        facilitator = db.session.execute(
            select(User).where(User.supervisor_id == supervisor.id).limit(1)).scalar_one()
        for user in (supervisor, facilitator):  # generated accounts: give them a known password
            from caseflow.services.users import hash_password

            user.password_hash = hash_password(PASSWORD)
        db.session.commit()
        manager = bench_user(Role.PROGRAMME_MANAGER)
        auditor = bench_user(Role.AUDITOR)
        clock = nullcontext()
        if args.month_end:
            last = max(sealing.sealed_months())
            db.session.execute(ReportMonthCell.__table__.delete().where(ReportMonthCell.month == last))
            db.session.execute(ReportSealedMonth.__table__.delete().where(ReportSealedMonth.month == last))
            db.session.commit()
            following = sealing.month_bounds(last)[1]
            with simulated_time(following - timedelta(hours=23, minutes=30)):  # the daily cron, 00:30
                started = time.perf_counter()
                cells = sealing.seal_month_so_far()
                print(f"{last} unsealed, its first days sealed as one block: {cells:,} cells in "
                      f"{time.perf_counter() - started:.1f} s")
            clock = simulated_time(following - timedelta(hours=1))
            print(f"the clock set to {following - timedelta(hours=1)}")
        with clock:
            measure(app, args, supervisor, facilitator, manager, auditor)
        if args.month_end:
            sealing.seal()


def measure(app, args, supervisor: User, facilitator: User, manager: User, auditor: User) -> None:
    today = utcnow().date()
    index = today.year * 12 + today.month - 12
    filters = fg.Filters(start=date(index // 12, index % 12 + 1, 1), end=today)
    print(f"period {filters.start} – {filters.end}; median of {args.repeat} runs\n")
    print(f"{'dashboard':<22}{'figures':>10}{'raw only':>10}{'page':>10}{'snapshot':>10}   headline")
    client = app.test_client()
    dashboard_url = f"/reports/?start={filters.start}&end={filters.end}"
    for label, user in (("facilitator", facilitator), ("supervisor (team)", supervisor),
                        ("auditor (national)", auditor), ("programme manager", manager)):
        ms, result = timed(lambda user=user: dashboard.figures(filters, user), args.repeat)
        raw_ms = "-"
        if args.raw:
            # The same instant for both: "overdue now" moves every few seconds at scale.
            with simulated_time(utcnow()):
                sealed = dashboard.figures(filters, user)
                db.session.rollback()
                app.config["CASEFLOW_REPORT_ROLLUPS"] = False
                raw_time, raw = timed(lambda user=user: dashboard.figures(filters, user), 1)
                app.config["CASEFLOW_REPORT_ROLLUPS"] = True
            assert raw == sealed, f"{label}: the sealed months disagree with the raw tables"
            raw_ms = f"{raw_time:.0f}ms"
        client.post("/login", data={"username": user.username, "password": PASSWORD})
        app.config["CASEFLOW_REPORT_SNAPSHOT_SECONDS"] = 0  # computed live
        page_ms, response = timed(lambda: client.get(dashboard_url), args.repeat)
        assert response.status_code == 200, response.status_code
        app.config["CASEFLOW_REPORT_SNAPSHOT_SECONDS"] = 600  # programme-wide: a recent snapshot
        client.get(dashboard_url)
        warm_ms, warm = timed(lambda: client.get(dashboard_url), args.repeat)
        assert warm.status_code == 200 and b"stat-value" in warm.data, warm.status_code
        client.post("/logout")
        head = result.headline
        print(f"{label:<22}{ms:>8.0f}ms{raw_ms:>10}{page_ms:>8.0f}ms{warm_ms:>8.0f}ms   recorded {head['recorded']:,}, "
              f"resolved {head['resolved']:,}, rate {head['resolution_rate']['rate']}, "
              f"overdue {sum(head['overdue'].values()):,}, days to resolution p50 "
              f"{(head['days_to_resolution'] or {}).get('p50')}")
    print()
    for label, user, path in (
        ("auditor: resolved cases", auditor, f"/reports/cases/resolved?start={filters.start}&end={filters.end}"),
        ("auditor: overdue, p.3", auditor, "/reports/cases/overdue?page=3"),
        ("supervisor: in progress", supervisor, "/reports/cases/in_progress"),
        ("facilitator: my cases", facilitator, "/cases"),
    ):
        client.post("/login", data={"username": user.username, "password": PASSWORD})
        ms, response = timed(lambda path=path: client.get(path), args.repeat)
        client.post("/logout")
        print(f"case list {label:<26}{ms:>8.0f}ms  (HTTP {response.status_code})")


if __name__ == "__main__":
    main()
