"""Schemas of the supervisor's records: handing a facilitator's cases over to others
(bulk reassignment) and supervision sessions with their action points. Shared by the
pages, the API and the services."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..models.supervision import SESSION_KINDS
from . import TEXT_MAX, FormSchema, RatingSchema, RowId, _text


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


# --- the JSON API: strict input (unknown fields refused) and the answers ----------------------


class EvaluationSubmitSchema(FormSchema):
    """The evaluation stage in one call: ratings, summary, what next, and (to end the case)
    the termination request's fields."""

    summary = _text(maximum=TEXT_MAX)
    ratings = fields.List(fields.Nested(RatingSchema), load_default=list)
    next = fields.String(required=True, validate=validate.OneOf(("save", "revise_plan", "request_termination")))
    outcome = fields.String(load_default=None, allow_none=True)
    closure_reason = fields.String(load_default=None, allow_none=True)
    reason_details = _text(maximum=2000)
    aftercare_plan = _text(maximum=4000)





class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    case_id = fields.Integer(allow_none=True)
    text = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationListOut(Schema):
    unread = fields.Integer()
    items = fields.List(fields.Nested(NotificationOut))


class MarkedReadOut(Schema):
    marked = fields.Integer()


class HandoverItemOut(Schema):
    case_id = fields.Integer()
    case_number = fields.String()
    facilitator_id = fields.Integer()


class HandoverOut(Schema):
    facilitator_id = fields.Integer()
    items = fields.List(fields.Nested(HandoverItemOut))


class ActionPointOut(Schema):
    id = fields.Integer()
    session_id = fields.Integer()
    case_id = fields.Integer(allow_none=True)
    owner_id = fields.Integer()
    description = fields.String()
    due_on = fields.Date()
    due_at = fields.DateTime()
    status = fields.String(allow_none=True)  # overdue / due_today / upcoming; empty once done
    done_at = fields.DateTime(allow_none=True)


class SupervisionSessionOut(Schema):
    id = fields.Integer()
    supervisor_id = fields.Integer()
    kind = fields.String()
    held_on = fields.Date()
    notes = fields.String()
    facilitator_ids = fields.List(fields.Integer())
    case_ids = fields.List(fields.Integer())
    action_points = fields.List(fields.Nested(ActionPointOut))


class RejectionOut(Schema):
    sign_off_id = fields.Integer()
    decided_at = fields.DateTime()
    decided_by_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    nothing_changed = fields.Boolean()
    ratings_changed = fields.List(fields.Dict())
    goals_added = fields.List(fields.String())
    goals_removed = fields.List(fields.String())
    goals_changed = fields.List(fields.String())
    steps_logged = fields.Integer()
