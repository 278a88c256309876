"""The agenda and the work targets at scale: the morning's pages, timed.

    CASEFLOW_DATABASE_URL=sqlite:////tmp/bench-agenda/db.sqlite3 .venv/bin/python bench/agenda.py --cases 50000

Creates the schema, generates cases (`caseflow generate`'s fast path) until the database
holds --cases, then times (median of --repeat runs) and counts the SQL statements of: the
agenda of the facilitator holding the most open cases, the agenda of the supervisor with the
largest team (their sign-offs), that team's agenda, the team's work-target progress for this
month, and the programme manager's progress by province. Targets: each under 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from caseflow import create_app  # noqa: E402
from caseflow.database import utcnow  # noqa: E402
from caseflow.devdata.generator import generate_cases  # noqa: E402
from caseflow.extensions import db  # noqa: E402
from caseflow.models import Case, Role, User  # noqa: E402
from caseflow.reports import targets as progress  # noqa: E402
from caseflow.services import agenda  # noqa: E402
from caseflow.services.context import Actor  # noqa: E402


def measured(fn, repeat: int) -> tuple[float, int, object]:
    """Median milliseconds and SQL statements of one run of `fn`."""
    statements = []
    engine = db.engine

    def count(*_args):
        statements.append(1)

    times, result = [], None
    for _ in range(repeat):
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
        event.remove(engine, "before_cursor_execute", count)
        db.session.rollback()
    return statistics.median(times), len(statements), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        have = db.session.execute(select(func.count()).select_from(Case)).scalar_one()
        if have < args.cases:
            generate_cases(args.cases - have, seal=False)
        total = db.session.execute(select(func.count()).select_from(Case)).scalar_one()
        busiest = db.session.execute(
            select(Case.facilitator_id, func.count()).where(Case.closed_at.is_(None))
            .group_by(Case.facilitator_id).order_by(func.count().desc()).limit(1)).first()
        facilitator = db.session.get(User, busiest[0])
        supervisor = db.session.get(User, facilitator.supervisor_id)
        team = agenda.team_members(supervisor)
        period = progress.period_containing("month", utcnow().date())
        print(f"{total} cases; facilitator {facilitator.id} holds {busiest[1]} open cases; "
              f"supervisor {supervisor.id} has {len(team)} facilitators")
        runs = {
            "facilitator's agenda": lambda: agenda.agenda_for(facilitator).count,
            "supervisor's own agenda": lambda: agenda.agenda_for(supervisor).count,
            "team agenda": lambda: agenda.team_agenda(Actor(user=supervisor)).count,
            "team progress (month)": lambda: len(progress.progress_rows(team, period, supervisor)),
            "progress by province": lambda: len(progress.province_progress(period)),
        }
        for name, fn in runs.items():
            ms, statements, result = measured(fn, args.repeat)
            print(f"{name:28} {ms:8.1f} ms  {statements:3} statements  ({result} items/rows)")
        managers = db.session.execute(select(func.count()).select_from(User).where(
            User.role == Role.PROGRAMME_MANAGER)).scalar_one()
        print(f"({managers} programme manager accounts; figures raw, never sealed)")


if __name__ == "__main__":
    main()
