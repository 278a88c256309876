"""Schemas of the agenda and work targets: planning a visit, cancelling it, the agenda
settings, and a work target. Shared by the pages, the API (strict variants) and the
services."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from ..models.agenda import MEASURES, PERIOD_KINDS
from . import STEP_TYPES, FormSchema, PlausibleDate, PlausibleDateTime, RowId, _text

# The kinds of step a visit or contact can be planned as (a referral has its own record).
VISIT_STEP_TYPES = tuple(t for t in STEP_TYPES if t != "referral")


class PlanVisitSchema(FormSchema):
    step_type = fields.String(required=True, validate=validate.OneOf(VISIT_STEP_TYPES))
    planned_at = PlausibleDateTime(required=True)
    place = _text(maximum=200)
    purpose = _text(maximum=2000)


class CancelVisitSchema(FormSchema):
    reason = _text(required=True, maximum=1000)


class AgendaSettingsSchema(FormSchema):
    remind_tomorrow = fields.Boolean(load_default=False)
    remind_overdue = fields.Boolean(load_default=False)
    feed_details = fields.Boolean(load_default=False)


class NationalTargetSchema(FormSchema):
    period_kind = fields.String(required=True, validate=validate.OneOf(PERIOD_KINDS))
    measure = fields.String(required=True, validate=validate.OneOf(MEASURES))
    target = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000))


class FacilitatorTargetSchema(NationalTargetSchema):
    facilitator_id = RowId(required=True)
    period_start = PlausibleDate(required=True)
    reason = _text(required=True, maximum=2000)


class ApiPlanVisitSchema(PlanVisitSchema):
    class Meta:
        unknown = RAISE


class ApiCancelVisitSchema(CancelVisitSchema):
    class Meta:
        unknown = RAISE


class ApiFacilitatorTargetSchema(FacilitatorTargetSchema):
    class Meta:
        unknown = RAISE


class ApiNationalTargetSchema(NationalTargetSchema):
    class Meta:
        unknown = RAISE


# --- responses ------------------------------------------------------------------------------


class AgendaItemOut(Schema):
    key = fields.String()
    kind = fields.String()
    kind_title = fields.String()
    case_id = fields.Integer()
    case_number = fields.String()
    owner_id = fields.Integer()
    day = fields.Date()
    due_at = fields.DateTime()
    starts_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    missed = fields.Boolean()
    record_id = fields.Integer()
    details = fields.Dict()


class AgendaOut(Schema):
    today = fields.Date()
    overdue = fields.List(fields.Nested(AgendaItemOut))
    due_today = fields.List(fields.Nested(AgendaItemOut))
    this_week = fields.List(fields.Nested(AgendaItemOut))


class PlannedVisitOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    step_type = fields.String()
    planned_at = fields.DateTime()
    timezone = fields.String()
    place = fields.String()
    purpose = fields.String()
    status = fields.String()
    step_id = fields.Integer(allow_none=True)
    done_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
