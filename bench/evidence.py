"""Evidence packages at size: export and verify a case with many events, and a
facilitator with many cases.

    .venv/bin/python bench/evidence.py --steps 1000 --cases 50

Builds a fresh SQLite database in a temporary folder (or CASEFLOW_DATABASE_URL), logs
--steps steps on one case and opens --cases cases for one facilitator through the
services, then prints: events, package size, export time and verification time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from flask_migrate import upgrade  # noqa: E402

from caseflow import create_app  # noqa: E402
from caseflow.audit.package import verify_package  # noqa: E402
from caseflow.database import utcnow  # noqa: E402
from caseflow.services import cases  # noqa: E402
from caseflow.services.clients import register_client  # noqa: E402
from caseflow.services.context import Actor  # noqa: E402
from caseflow.services.evidence import export_case_package, export_facilitator_package  # noqa: E402
from caseflow.services.reference import seed_reference_data  # noqa: E402
from caseflow.services.users import create_user  # noqa: E402

PASSWORD = "Kopi-Tubruk-Lima-88"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=50)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="caseflow-bench-evidence-"))
    os.environ.setdefault("CASEFLOW_INSTANCE_PATH", str(folder))
    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ.get("CASEFLOW_DATABASE_URL")
                      or f"sqlite:///{folder / 'bench.sqlite3'}", "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade(revision="heads")
        seed_reference_data()
        cli = Actor.cli()
        supervisor = create_user(cli, {"username": "sup", "full_name": "Sup", "role": "supervisor",
                                       "password": PASSWORD, "province_code": "91"})
        facilitator = create_user(cli, {"username": "fac", "full_name": "Fac", "role": "facilitator",
                                        "password": PASSWORD, "province_code": "91",
                                        "supervisor_id": supervisor.id})
        auditor = create_user(cli, {"username": "aud", "full_name": "Aud", "role": "auditor",
                                    "password": PASSWORD, "province_code": "31"})
        me = Actor(user=facilitator)
        opened = []
        for number in range(args.cases):
            client = register_client(me, {
                "full_name": f"Klien {number}", "birth_date": "1990-01-01", "sex": "F", "province_code": "91",
                "consent_given_by": "klien", "consent_confirmed": True})
            opened.append(cases.open_case(me, {"client_id": client.id, "ppks_category_code": "P02"}))
        big = opened[0]
        cases.fire_trigger(me, big.id, "start_assessment")
        earlier = (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
        for _ in range(args.steps):
            cases.log_step(me, big.id, {"step_type": "home_visit", "occurred_at": earlier, "notes": "Kunjungan"})

        started = time.perf_counter()
        package = export_case_package(Actor(user=auditor), big.id)
        exported = time.perf_counter() - started
        started = time.perf_counter()
        report = verify_package(package.data)
        verified = time.perf_counter() - started
        print(f"case package: {package.events} events, {len(package.data) / 1024:.0f} KiB, "
              f"export {exported * 1000:.0f} ms, verify {verified * 1000:.0f} ms, ok={report.ok}")

        today = utcnow().date()
        started = time.perf_counter()
        package = export_facilitator_package(Actor(user=auditor), facilitator.id, today - timedelta(days=1), today)
        exported = time.perf_counter() - started
        started = time.perf_counter()
        report = verify_package(package.data)
        verified = time.perf_counter() - started
        print(f"facilitator package: {package.chains} chains, {package.events} events, "
              f"{len(package.data) / 1024:.0f} KiB, export {exported * 1000:.0f} ms, "
              f"verify {verified * 1000:.0f} ms, ok={report.ok}")


if __name__ == "__main__":
    main()
