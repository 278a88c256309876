"""Run one service call in a separate process and stop it dead in the middle.

Usage: python crash_worker.py DATABASE_URL INSTANCE_DIR SIGNAL_FILE OPERATION CASE_ID USER_ID

The worker announces (by creating SIGNAL_FILE) that it is inside the transaction, after
the change and its audit event were written but before the commit, then sleeps until the
test kills it with SIGKILL — the closest thing to pulling the plug.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    url, instance, signal_file, operation, case_id, user_id = sys.argv[1:7]
    os.environ["CASEFLOW_INSTANCE_PATH"] = instance
    from caseflow import create_app
    from caseflow.extensions import db
    from caseflow.models import Case, User
    from caseflow.services import cases
    from caseflow.services.context import Actor

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "crash",
                      "CASEFLOW_AUDIT_KEY_PATH": str(Path(instance) / "audit_key.pem")})
    original = cases.append_case_event
    global _ORIGINAL_APPEND
    _ORIGINAL_APPEND = original

    def append_then_hang(case, **kwargs):
        event = original(case, **kwargs)
        db.session.flush()  # everything of this operation is now in the database, uncommitted
        Path(signal_file).write_text("inside")
        time.sleep(120)
        return event

    cases.append_case_event = append_then_hang
    with app.app_context():
        actor = Actor(user=db.session.get(User, int(user_id)))
        if operation == "import":
            _import_and_hang(actor, signal_file, rows=int(case_id))
            return
        case = db.session.get(Case, int(case_id))
        if operation == "transition":
            cases.fire_trigger(actor, case.id, "start_assessment")
        elif operation == "sign_off":
            cases.decide_sign_off(actor, case.pending_sign_off.id, {"decision": "approve"})
        else:
            raise SystemExit(f"unknown operation {operation}")


def _import_and_hang(actor, signal_file: str, rows: int) -> None:
    """Import a register of `rows` rows; die after three rows are written, uncommitted."""
    from caseflow.extensions import db
    from caseflow.services import cases
    from caseflow.transfers import imports

    # Only the import's own hook announces the middle; the case events stay as they are.
    cases.append_case_event = _ORIGINAL_APPEND
    lines = [",".join(imports.COLUMN_NAMES)]
    for number in range(rows):
        lines.append(",".join([f"Klien Impor {number}", "", "1985-08-05", "F", "", "", "91", "", "",
                               "klien", "ya", "P02", actor.user.username, "", ""]))
    table = imports.read_table("register.csv", "\n".join(lines).encode())
    checks = imports.check_rows(actor, table)

    def after_row(done: int) -> None:
        if done == 3:
            db.session.flush()
            Path(signal_file).write_text("inside")
            time.sleep(120)

    imports.apply_rows(actor, checks, all_or_nothing=True, progress=after_row)


_ORIGINAL_APPEND = None


if __name__ == "__main__":
    main()
