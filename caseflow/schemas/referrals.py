"""Schemas of referrals (rujukan): sending one, and recording the answer. Shared by the
pages, the API (strict variants: unknown fields refused) and the services."""

from __future__ import annotations

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from ..i18n import _l
from ..models.referral import DESTINATION_TYPES, STATUSES
from . import FormSchema, RowId, _text


class ReferralSchema(FormSchema):
    destination_type = fields.String(required=True, validate=validate.OneOf(DESTINATION_TYPES))
    institution = _text(required=True, maximum=200)
    reason = _text(required=True, maximum=4000)
    goal_id = RowId(load_default=None, allow_none=True)
    # Empty: today, in the facilitator's calendar; the expected answer then follows the
    # usual time of that kind of service (models.referral.ANSWER_DAYS).
    sent_on = fields.Date(load_default=None, allow_none=True)
    expected_answer_on = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _check(self, data, **_kwargs):
        sent, expected = data.get("sent_on"), data.get("expected_answer_on")
        if sent and expected and expected < sent:
            raise MarshmallowValidationError(
                {"expected_answer_on": [str(_l("The answer cannot be expected before the referral is sent."))]})


class ReferralAnswerSchema(FormSchema):
    """What came back: the new status, the feedback and the day it was received. Staying
    "sent" with a new expected day records that the service asked for more time."""

    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    feedback = _text(maximum=4000)
    answered_on = fields.Date(load_default=None, allow_none=True)
    expected_answer_on = fields.Date(load_default=None, allow_none=True)




# --- responses -----------------------------------------------------------------------------


class ReferralOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    destination_type = fields.String()
    destination_title = fields.String()
    institution = fields.String()
    reason = fields.String()
    goal_id = fields.Integer(allow_none=True)
    sent_on = fields.Date()
    expected_answer_on = fields.Date()
    status = fields.String()
    status_title = fields.String()
    overdue = fields.Boolean()
    feedback = fields.String()
    answered_on = fields.Date(allow_none=True)
    step_id = fields.Integer(allow_none=True)
    created_by_id = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ReferralPageOut(Schema):
    items = fields.List(fields.Nested(ReferralOut))
    next_cursor = fields.String(allow_none=True)
