"""The agenda (agenda kerja): one's own agenda (also what the tablet keeps offline for the
next days), a supervisor's view of the team's, and planning or cancelling a visit."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from ..database import utcnow
from ..errors import NotAllowed
from ..i18n import _l
from ..i18n.agenda_labels import agenda_labels
from ..models import Role
from ..schemas.agenda import AgendaOut, CancelVisitSchema, PlannedVisitOut, PlanVisitSchema
from ..services import agenda as agenda_services
from ..services.agenda import Agenda, AgendaItem
from .common import actor, json_body, make_blueprint, scope, user, write, writes

blp = make_blueprint("api_agenda", "The agenda (agenda kerja): what is due today, this week and overdue.")


class AgendaArgsSchema(Schema):
    class Meta:
        unknown = RAISE

    days = fields.Integer(load_default=agenda_services.WEEK_DAYS,
                          validate=validate.Range(min=1, max=agenda_services.OFFLINE_DAYS),
                          metadata={"description": "How many days ahead, today included (the tablet asks 14)"})


class TeamAgendaArgsSchema(Schema):
    class Meta:
        unknown = RAISE

    facilitator_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1),
                                    metadata={"description": "One facilitator of your team"})


def present_item(item: AgendaItem, now) -> dict:
    """An item as the API gives it: no client's name (the tablet has it with the case)."""
    return {"key": item.key, "kind": item.kind, "kind_title": agenda_labels.kind(item.kind),
            "case_id": item.case_id, "case_number": item.case_number, "owner_id": item.owner_id,
            "day": item.day, "due_at": item.due_at, "starts_at": item.starts_at,
            "overdue": item.is_overdue(now), "missed": item.missed, "record_id": item.record_id,
            "details": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item.details.items()}}


def present_agenda(agenda: Agenda) -> dict:
    now = utcnow()
    return {"today": agenda.today, **{group: [present_item(i, now) for i in getattr(agenda, group)]
                                      for group in ("overdue", "due_today", "this_week")}}


@blp.route("/agenda", methods=["GET"])
@blp.arguments(AgendaArgsSchema, location="query", as_kwargs=True)
@blp.response(200, AgendaOut)
@scope("cases:read")
def get_agenda(days: int):
    """Your agenda: overdue items, today's, and those of the next `days` days."""
    if user().role not in (Role.FACILITATOR, Role.SUPERVISOR):
        raise NotAllowed(_l("Only facilitators and supervisors have an agenda."))
    return present_agenda(agenda_services.agenda_for(user(), days=days))


@blp.route("/agenda/team", methods=["GET"])
@blp.arguments(TeamAgendaArgsSchema, location="query", as_kwargs=True)
@blp.response(200, AgendaOut)
@scope("cases:read")
def get_team_agenda(facilitator_id: int | None):
    """A supervisor's view of the team's agenda (or one facilitator's of the team)."""
    return present_agenda(agenda_services.team_agenda(actor(), facilitator_id))


@blp.route("/cases/<int:case_id>/visits", methods=["POST"])
@writes(blp, PlanVisitSchema, PlannedVisitOut, status=201)
def plan_visit(_values, case_id: int):
    """Plan a visit or contact on the case (its facilitator): type, time (a time without
    an offset is read in your zone), place, purpose. A step of its type logged on its day
    makes it done."""
    return write(lambda: agenda_services.plan_visit(actor(), case_id, json_body()), PlannedVisitOut(),
                 status=201)


@blp.route("/visits/<int:visit_id>/cancel", methods=["POST"])
@writes(blp, CancelVisitSchema, PlannedVisitOut)
def cancel_visit(_values, visit_id: int):
    """Cancel a planned (or missed) visit, with a reason."""
    return write(lambda: agenda_services.cancel_visit(actor(), visit_id, json_body()), PlannedVisitOut())
