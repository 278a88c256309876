"""Schemas of the client list and of a new case for a returning client (JSON API)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from . import OpenCaseSchema
from .api import ClientBriefOut, PageArgsSchema


class ClientListArgsSchema(PageArgsSchema):
    q = fields.String(load_default="", validate=validate.Length(max=120),
                      metadata={"description": "Part of a name, or a full 16-digit NIK (exact)"})
    without_case = fields.Boolean(load_default=False,
                                  metadata={"description": "Only clients with no case at all yet"})


class NewCaseForClientSchema(OpenCaseSchema):
    """Opening a case for the client named in the path: the body names no client."""

    class Meta:
        unknown = RAISE
        exclude = ("client_id",)


class ClientListItemOut(ClientBriefOut):
    created_at = fields.DateTime()
    has_case = fields.Boolean(metadata={"description": "Has any case at all (false: registered, never given one)"})
    cases = fields.Integer(metadata={"description": "Cases of this client you may open"})
    open_case_id = fields.Integer(allow_none=True, metadata={"description": "Their open case, if you may open it"})
    open_case_elsewhere = fields.Boolean(metadata={"description": "An open case held by someone else"})


class ClientListPageOut(Schema):
    items = fields.List(fields.Nested(ClientListItemOut))
    next_cursor = fields.String(allow_none=True)
