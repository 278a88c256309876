"""Clients found again: the list and search (name, or a full NIK that finds nothing out of
your reach), a client's cases, and a new case for a returning client."""

from __future__ import annotations

from datetime import datetime

from marshmallow import RAISE
from sqlalchemy import and_, or_

from ..extensions import db
from ..models import Client
from ..schemas import api as s
from ..schemas.clients import ClientListArgsSchema, ClientListPageOut, NewCaseForClientSchema
from ..services import cases as case_services
from ..services import clients as client_services
from . import present
from .common import (
    WRITE_HEADERS,
    actor,
    decode_cursor,
    json_body,
    make_blueprint,
    page,
    scope,
    user,
    write_case,
)

blp = make_blueprint("api_client_list", "Clients: the list, search, their cases and a new case for a returning client.")


@blp.route("/clients", methods=["GET"])
@blp.arguments(ClientListArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, ClientListPageOut)
@scope("cases:read")
def list_clients(limit: int, cursor: str | None, q: str, without_case: bool):
    """Clients you registered or whose case you hold (a supervisor: also the team's), the
    newest registration first. `q`: part of a name, or a full NIK. Empty for other roles."""
    statement = client_services.client_list(user(), search=q, without_case=without_case)
    after = decode_cursor(cursor, (datetime, int))
    if after is not None:
        statement = statement.where(or_(Client.created_at < after[0],
                                        and_(Client.created_at == after[0], Client.id < after[1])))
    rows = list(db.session.execute(statement.limit(limit + 1)).scalars())
    rows, next_cursor = page(rows, limit, lambda c: [c.created_at, c.id])
    counts = client_services.cases_by_client(user(), [c.id for c in rows])
    return {"items": [present.client_list_item(c, counts[c.id]) for c in rows], "next_cursor": next_cursor}


@blp.route("/clients/<int:client_id>/cases", methods=["GET"])
@blp.response(200, s.CaseSummaryOut(many=True))
@scope("cases:read")
def client_cases(client_id: int):
    """The client's cases you may open, the newest first (a returning client's cases are
    linked through the client)."""
    client = client_services.get_client(user(), client_id)
    return [present.case_summary(c) for c in client_services.cases_of(user(), client)]


@blp.route("/clients/<int:client_id>/cases", methods=["POST"])
@blp.arguments(NewCaseForClientSchema)
@blp.response(201, s.CaseSummaryOut, headers={"ETag": {"$ref": "#/components/headers/ETAG"}})
@blp.doc(parameters=WRITE_HEADERS)
@scope("cases:write")
def new_case(_values, client_id: int):
    """A new case for the client ("kasus baru untuk klien ini"), once their earlier cases
    are closed: a client has one open case at a time."""
    return write_case(lambda: case_services.open_case(actor(), json_body() | {"client_id": client_id}), status=201)
