"""Cases: list, open, read (with records and steps), stage records, steps, transitions,
available actions, reassignment and the case's audit events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask_babel import gettext as _
from marshmallow import RAISE, Schema
from sqlalchemy import and_, or_, select

from ..errors import NotFound
from ..extensions import db
from ..i18n import _l
from ..models import AuditEvent, Case, Step
from ..schemas import (
    AssessmentSchema,
    EvaluationSchema,
    OpenCaseSchema,
    PlanSchema,
    ReassignSchema,
    StepSchema,
    TerminationSchema,
    TransitionSchema,
    parse_step_key,
)
from ..schemas import api as s
from ..services import access
from ..services import cases as case_services
from ..services.audit import case_chain
from . import present
from .common import (
    ApiProblem,
    actor,
    case_change,
    decode_cursor,
    etag,
    expected_version,
    make_blueprint,
    page,
    scope,
    user,
    write,
    write_case,
    writes,
)

blp = make_blueprint("api_cases", "Cases, their stage records, steps, transitions and audit events.")

@blp.route("/cases", methods=["GET"])
@blp.arguments(s.CaseListArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, s.CasePageOut)
@scope("cases:read")
def list_cases(limit: int, cursor: str | None, state: str | None):
    """Cases visible to you, newest first (cursor pagination)."""
    statement = access.visible_cases(user(), select(Case)).order_by(Case.id.desc()).limit(limit + 1)
    after = decode_cursor(cursor, (int,))
    if after is not None:
        statement = statement.where(Case.id < after[0])
    if state:
        statement = statement.where(Case.state == state)
    rows = list(db.session.execute(statement).scalars())
    rows, next_cursor = page(rows, limit, lambda c: [c.id])
    return {"items": [present.case_summary(c) for c in rows], "next_cursor": next_cursor}


@blp.route("/cases", methods=["POST"])
@writes(blp, OpenCaseSchema, s.CaseSummaryOut, status=201, etag=True)
def open_case(values):
    """Open a case for a registered client."""
    return write_case(lambda: case_services.open_case(actor(), values), status=201)


@blp.route("/cases/<int:case_id>", methods=["GET"], parameters=[])
@blp.arguments(s.CaseDetailArgsSchema, location="query", as_kwargs=True)
@blp.response(200, s.CaseDetailOut, headers={"ETag": {"$ref": "#/components/headers/ETAG"}})
@scope("cases:read")
def get_case(case_id: int, steps_before: str | None):
    """One case with its stage records, its latest steps (at most 20, in the order they
    happened; `older_steps` is the `steps_before` of the page before them), pending
    sign-off and your actions. Reading it is recorded in the case's audit trail. The ETag is
    the case version."""
    before = None
    if steps_before is not None:
        before = parse_step_key(steps_before)
        if before is None:
            raise ApiProblem(400, _("Bad request"), _("The cursor is not one this API gave out."),
                             slug="bad-cursor", errors={"steps_before": [_("Use older_steps of the case.")]})
    reading = case_services.read_case(actor(), case_id, what="api", before=before)
    return present.case_detail(user(), reading), 200, {"ETag": etag(reading.case.version)}


# The case's stage records: each is saved (partly, or whole) by a PUT of its own, the same
# way; the tablet's outbox sends them as its kinds of the same names.
STAGE_RECORDS = (
    ("assessment", AssessmentSchema, case_services.save_assessment,
     "Save the assessment (partial is allowed; moving on needs it complete)."),
    ("plan", PlanSchema, case_services.save_plan,
     "Save the intervention plan: goals with an id are changed, without one added, absent ones archived."),
    ("evaluation", EvaluationSchema, case_services.save_evaluation, "Rate the plan's goals."),
    ("termination", TerminationSchema, case_services.save_termination_request,
     "Prepare the termination request (resolved, or closed unresolved with a reason)."),
)


def _stage_record_endpoint(record: str, schema: type[Schema], save: Callable, summary: str) -> None:
    def put_record(values, case_id: int):
        version = expected_version()
        return write_case(lambda: save(actor(), case_id, values, version))

    put_record.__name__ = put_record.__qualname__ = f"put_{record}"
    put_record.__doc__ = summary
    view = case_change(blp, schema, s.CaseSummaryOut)(put_record)
    blp.route(f"/cases/<int:case_id>/{record}", methods=["PUT"])(view)


for stage_record in STAGE_RECORDS:
    _stage_record_endpoint(*stage_record)


@blp.route("/cases/<int:case_id>/steps", methods=["GET"])
@blp.arguments(s.PageArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, s.StepPageOut)
@scope("cases:read")
def list_steps(case_id: int, limit: int, cursor: str | None):
    """The case's steps in the order they happened (cursor pagination)."""
    after = decode_cursor(cursor, (datetime, int))
    case_services.record_case_view(actor(), case_id, what="api steps")
    statement = (select(Step).where(Step.case_id == case_id)
                 .order_by(Step.occurred_at, Step.id).limit(limit + 1))
    if after is not None:
        statement = statement.where(or_(Step.occurred_at > after[0],
                                        and_(Step.occurred_at == after[0], Step.id > after[1])))
    rows = list(db.session.execute(statement).scalars())
    rows, next_cursor = page(rows, limit, lambda st: [st.occurred_at, st.id])
    return {"items": rows, "next_cursor": next_cursor}




@blp.route("/cases/<int:case_id>/steps", methods=["POST"])
@case_change(blp, StepSchema, s.StepOut, status=201)
def log_step(values, case_id: int):
    """Log a step (langkah penanganan) on an open case. A time without offset is read in
    your province's zone. The ETag of the answer is the case's new version."""
    version = expected_version()
    locked = case_services.LockedCases()  # the case, locked with the Idempotency-Key
    return write(lambda: case_services.log_step(actor(), case_id, values, version, locked=locked),
                 s.StepAnswer, status=201, version_of=lambda st: st.case.version,
                 lock_along=lambda: case_services.step_lock(case_id, locked))


@blp.route("/cases/<int:case_id>/transitions/<string:trigger>", methods=["POST"])
@case_change(blp, TransitionSchema, s.CaseSummaryOut)
def fire_trigger(values, case_id: int, trigger: str):
    """Move the case along its workflow. A refused guard answers 409 naming what is missing."""
    version = expected_version()
    locked = {}  # the case, locked with the Idempotency-Key
    return write_case(lambda: case_services.fire_trigger(actor(), case_id, trigger, values, version, locked=locked),
                      lock_along=lambda: case_services.move_lock(case_id, locked))


@blp.route("/cases/<int:case_id>/actions", methods=["GET"])
@blp.response(200, s.ActionOut(many=True))
@scope("cases:read")
def list_actions(case_id: int):
    """The triggers you may fire on the case now, each with what is still missing."""
    case = case_services.get_case(user(), case_id)
    return present.actions(user(), case)


@blp.route("/cases/<int:case_id>/reassignments", methods=["POST"])
@case_change(blp, ReassignSchema, s.CaseSummaryOut)
def reassign(values, case_id: int):
    """A supervisor moves an open case to another facilitator of the team."""
    version = expected_version()
    return write_case(lambda: case_services.reassign_case(actor(), case_id, values, version))


@blp.route("/cases/<int:case_id>/audit-events", methods=["GET"])
@blp.arguments(s.PageArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, s.AuditEventPageOut)
@scope("audit:read")
def list_audit_events(case_id: int, limit: int, cursor: str | None):
    """The case's hash-chained audit trail, oldest first: auditors of its scope and the
    case's own people. Reading it is recorded too."""
    after = decode_cursor(cursor, (int,))
    if db.session.get(Case, case_id) is None:
        raise NotFound(_l("No such case."))
    case_services.record_case_view(actor(), case_id, what="api audit events")
    statement = (select(AuditEvent).where(AuditEvent.chain == case_chain(case_id))
                 .order_by(AuditEvent.seq).limit(limit + 1))
    if after is not None:
        statement = statement.where(AuditEvent.seq > after[0])
    rows = list(db.session.execute(statement).scalars())
    rows, next_cursor = page(rows, limit, lambda e: [e.seq])
    return {"items": rows, "next_cursor": next_cursor}

