"""Schemas of a case's aftercare (bimbingan lanjut) in the JSON API."""

from __future__ import annotations

from marshmallow import Schema, fields

from .api import StepOut


class AftercareContactOut(Schema):
    number = fields.Integer()
    due_at = fields.DateTime()
    opens_at = fields.DateTime(metadata={"description": "A step from here on makes this contact…"})
    closes_at = fields.DateTime(metadata={"description": "…until here"})
    made_at = fields.DateTime(allow_none=True)
    step_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "made, missed, open, planned, or cancelled (relapse)"})


class AftercareOut(Schema):
    id = fields.Integer(allow_none=True)
    state = fields.String(metadata={"description": "running, completed, relapsed, or none (never had one)"})
    started_at = fields.DateTime(allow_none=True, metadata={"description": "The resolution it follows"})
    planned_end_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    plan = fields.String()
    as_planned = fields.Boolean(metadata={"description": "Every planned contact made"})
    contacts = fields.List(fields.Nested(AftercareContactOut))
    steps = fields.List(fields.Nested(StepOut), metadata={"description": "Steps logged during the period"})
