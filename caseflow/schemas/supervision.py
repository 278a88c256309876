"""Schemas of the supervisor's records: handing a facilitator's cases over to others
(bulk reassignment) and supervision sessions with their action points. Shared by the
pages, the API and the services."""

from __future__ import annotations

from marshmallow import fields, validate

from ..models.supervision import SESSION_KINDS
from . import FormSchema, RowId, _text


class HandoverPlanSchema(FormSchema):
    """Which cases of a facilitator (none named: all in work) go to whom."""

    case_ids = fields.List(RowId(), load_default=list)
    receiver_ids = fields.List(RowId(), required=True, validate=validate.Length(min=1, max=50))


class HandoverAssignmentSchema(FormSchema):
    case_id = RowId(required=True)
    facilitator_id = RowId(required=True)


class HandoverSchema(FormSchema):
    """The confirmed plan: each case with its receiver, and why."""

    assignments = fields.List(fields.Nested(HandoverAssignmentSchema), required=True,
                              validate=validate.Length(min=1, max=5000))
    reason = _text(required=True, maximum=1000)


class ActionPointSchema(FormSchema):
    description = _text(required=True, maximum=1000)
    owner_id = RowId(required=True)
    due_on = fields.Date(required=True)
    case_id = RowId(load_default=None, allow_none=True)


class SupervisionSessionSchema(FormSchema):
    kind = fields.String(required=True, validate=validate.OneOf(SESSION_KINDS))
    held_on = fields.Date(required=True)
    facilitator_ids = fields.List(RowId(), required=True, validate=validate.Length(min=1, max=50))
    case_ids = fields.List(RowId(), load_default=list, validate=validate.Length(max=100))
    notes = _text(required=True, maximum=10000)
    action_points = fields.List(fields.Nested(ActionPointSchema), load_default=list,
                                validate=validate.Length(max=50))
