"""The periodic tasks and their schedule, declared here instead of in cron lines an
administrator copies by hand. `caseflow worker` runs them (with the queued imports and
exports); `caseflow tasks run NAME` runs one now; `caseflow tasks status` (and the
administrator's "Tugas latar" page) says when each last ran. All times UTC.

Another area may add its own with `@periodic(...)` in its own module, imported by
create_app before `queue.init_app`.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from .queue import periodic
from .reports import sealing
from .services import task_runs
from .services.agenda import send_reminders
from .services.audit import create_checkpoint
from .services.context import Actor
from .services.privacy import anonymise_closed_cases
from .services.sign_off_policy import escalate_overdue_sign_offs
from .transfers.export_jobs import purge_expired
from .transfers.jobs import recover_interrupted

TASK_RUNS_KEPT = timedelta(days=30)


@periodic("audit-checkpoint", timedelta(minutes=10), minute="*/10")
def audit_checkpoint() -> str:
    """Seal the audit chain heads that moved with a signed checkpoint."""
    checkpoint = create_checkpoint(Actor.system())
    if checkpoint is None:
        return "nothing new to seal"
    return f"checkpoint {checkpoint.id}: {checkpoint.entry_count} chain heads sealed"


@periodic("jobs-recover", timedelta(minutes=5), minute="*/5")
def jobs_recover() -> str:
    """Imports and exports whose worker stopped: retried, or failed with their rows erased."""
    retried, failed = recover_interrupted()
    return f"{retried} job(s) retried, {failed} failed"


@periodic("sign-offs-escalate", timedelta(hours=1), minute="5")
def sign_offs_escalate() -> str:
    return f"{len(escalate_overdue_sign_offs(Actor.system()))} sign-off(s) escalated"


@periodic("agenda-remind", timedelta(hours=1), minute="45")
def agenda_remind() -> str:
    """The agenda's 'due tomorrow' and 'now overdue' notifications, once per item."""
    return f"{send_reminders()} reminder(s) sent"


@periodic("exports-purge", timedelta(hours=1), minute="15")
def exports_purge() -> str:
    """Export files past CASEFLOW_EXPORT_KEEP_HOURS, and checked imports never applied."""
    deleted = purge_expired()
    pruned = task_runs.prune_runs(TASK_RUNS_KEPT)
    return f"{deleted} export file(s) deleted, {pruned} old task run(s) forgotten"


@periodic("reports-seal", timedelta(days=1), minute="30", hour="0")
def reports_seal() -> str:
    missing = sealing.months_to_seal()
    cells = sum(sealing.seal_month(label) for label in missing)
    so_far = sealing.seal_month_so_far()
    return f"{len(missing)} month(s) sealed ({cells} cells), this month so far: {so_far} cells"


@periodic("privacy-retention", timedelta(days=1), minute="0", hour="2")
def privacy_retention() -> str:
    """Anonymise the clients whose cases all closed before CASEFLOW_RETENTION_DAYS."""
    report = anonymise_closed_cases(Actor.system(), current_app.config["CASEFLOW_RETENTION_DAYS"])
    return f"{len(report.clients)} client(s), {len(report.cases)} case(s) anonymised"
