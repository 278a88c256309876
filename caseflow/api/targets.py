"""Work targets (target kinerja): progress of a period against the targets in force — one's
own (facilitator), the team's (supervisor), by province (programme manager, aggregates
only) — and setting a target (a supervisor for a facilitator of the team, with a reason; the
programme manager for the national default)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from ..database import utcnow
from ..errors import NotAllowed
from ..i18n import _l
from ..models import Role
from ..models.agenda import PERIOD_KINDS
from ..reports import targets as progress
from ..schemas.agenda import FacilitatorTargetSchema, NationalTargetSchema
from ..services import agenda as agenda_services
from ..services import targets as target_services
from .common import actor, json_body, make_blueprint, scope, user, write, writes

blp = make_blueprint("api_targets", "Work targets (target kinerja) and progress against them.")


class TargetArgsSchema(Schema):
    class Meta:
        unknown = RAISE

    period = fields.String(load_default="month", validate=validate.OneOf(PERIOD_KINDS))
    start = fields.Date(load_default=None, metadata={"description": "A day in the period (default: today)"})


class ProgressOut(Schema):
    period = fields.String()
    start = fields.Date()
    end = fields.Date()
    rows = fields.List(fields.Dict())


class TargetOut(Schema):
    id = fields.Integer()
    facilitator_id = fields.Integer(allow_none=True)
    period_kind = fields.String()
    period_start = fields.Date(allow_none=True)
    measure = fields.String()
    target = fields.Integer()
    reason = fields.String()


def _row(row: dict) -> dict:
    person = row.get("facilitator")
    return {**({"facilitator_id": person.id, "full_name": person.full_name, "overall": row["overall"]}
               if person is not None else {"province": row["province"], "facilitators": row["facilitators"]}),
            "measures": row["measures"]}


@blp.route("/targets", methods=["GET"])
@blp.arguments(TargetArgsSchema, location="query", as_kwargs=True)
@blp.response(200, ProgressOut)
@scope(None)
def get_progress(period: str, start):
    """Progress of the period: your own (facilitator), your team's (supervisor), or by
    province with the programme's total last (programme manager)."""
    me = user()
    found = progress.period_containing(period, start or agenda_services.today_for(me, utcnow()))
    if me.role == Role.PROGRAMME_MANAGER:
        rows = progress.province_progress(found)
    elif me.role in (Role.FACILITATOR, Role.SUPERVISOR):
        people = [me] if me.role == Role.FACILITATOR else agenda_services.team_members(me)
        rows = progress.progress_rows(people, found, me)
    else:
        raise NotAllowed(_l("Only facilitators, supervisors and the programme manager see work targets."))
    return {"period": found.kind, "start": found.start, "end": found.end, "rows": [_row(r) for r in rows]}


@blp.route("/targets/facilitators", methods=["POST"])
@writes(blp, FacilitatorTargetSchema, TargetOut, status=201)
def set_facilitator_target(_values):
    """A supervisor sets a team facilitator's target of a measure for one period, with a reason."""
    return write(lambda: target_services.set_facilitator_target(actor(), json_body()), TargetOut(), status=201)


@blp.route("/targets/national", methods=["POST"])
@writes(blp, NationalTargetSchema, TargetOut, status=201, needs=None)
def set_national_target(_values):
    """The programme manager sets the national default of a measure for a kind of period."""
    return write(lambda: target_services.set_national_target(actor(), json_body()), TargetOut(), status=201)
