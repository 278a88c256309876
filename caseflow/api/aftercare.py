"""Aftercare (bimbingan lanjut): a resolved case's follow-up period, its planned contacts
and the follow-ups logged. The tablet's outbox logs follow-ups as steps, which works the
same way (a step within a contact's window makes it)."""

from __future__ import annotations

from ..schemas import StepSchema
from ..schemas import api as s
from ..schemas.aftercare import AftercareOut
from ..services import aftercare
from ..services import cases as case_services
from .common import (
    actor,
    case_change,
    expected_version,
    json_body,
    make_blueprint,
    scope,
    user,
    write,
)

blp = make_blueprint("api_aftercare", "Aftercare (bimbingan lanjut) of resolved cases.")


@blp.route("/cases/<int:case_id>/aftercare", methods=["GET"])
@blp.response(200, AftercareOut)
@scope("cases:read")
def get_aftercare(case_id: int):
    """The case's latest aftercare period with each planned contact's status; state "none"
    for a case that never had one. Reading it is recorded on the case."""
    case_services.record_case_view(actor(), case_id, what="api aftercare")
    case = case_services.get_case(user(), case_id)
    return aftercare.status_of(case) or NO_AFTERCARE


NO_AFTERCARE = {"id": None, "state": "none", "started_at": None, "planned_end_at": None, "ended_at": None,
                "plan": "", "as_planned": False, "contacts": [], "steps": []}


@blp.route("/cases/<int:case_id>/aftercare/follow-ups", methods=["POST"])
@case_change(blp, StepSchema, s.StepOut, status=201)
def log_follow_up(_values, case_id: int):
    """Log a follow-up contact (a step) on a case in aftercare; refused (409) when the case
    is not in aftercare. The ETag of the answer is the case's new version."""
    version = expected_version()
    return write(lambda: aftercare.log_follow_up(actor(), case_id, json_body(), version),
                 s.StepOut(), status=201, version_of=lambda step: step.case.version)
