"""Clients, sign-offs, reference data and personal access tokens."""

from __future__ import annotations

from datetime import datetime

from marshmallow import RAISE
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..i18n import _l
from ..models import Client, PpksCategory, Province
from ..schemas import SignOffDecisionSchema
from ..schemas import api as s
from ..services import access, api_tokens
from ..services import cases as case_services
from ..services.clients import register_client
from . import present
from .common import (
    WRITE_HEADERS,
    actor,
    case_change,
    decode_cursor,
    expected_version,
    json_body,
    make_blueprint,
    page,
    scope,
    user,
    write,
)

clients_blp = make_blueprint("api_clients", "Clients (penerima manfaat).")
sign_offs_blp = make_blueprint("api_sign_offs", "Sign-offs (persetujuan) a supervisor decides.")
reference_blp = make_blueprint("api_reference", "Reference data: provinces and PPKS categories.")
tokens_blp = make_blueprint("api_tokens", "Your personal access tokens (managed while signed in).")


# --- clients ---------------------------------------------------------------------------


@clients_blp.route("/clients", methods=["POST"])
@clients_blp.arguments(s.ApiClientSchema)
@clients_blp.response(201, s.ClientOut)
@clients_blp.doc(parameters=WRITE_HEADERS)
@scope("cases:write")
def create_client(_values):
    """Register a client, with their consent recorded."""
    me = user()
    return write(lambda: present.client(me, register_client(actor(), json_body())), s.ClientOut(),
                 status=201)


@clients_blp.route("/clients/<int:client_id>", methods=["GET"])
@clients_blp.response(200, s.ClientOut)
@scope("cases:read")
def get_client(client_id: int):
    """A client you registered or whose case you may open."""
    client = db.session.get(Client, client_id)
    if client is None or not access.can_see_client(user(), client):
        raise NotFound(_l("No such client."))
    return present.client(user(), client)


# --- sign-offs -------------------------------------------------------------------------


@sign_offs_blp.route("/sign-offs", methods=["GET"])
@sign_offs_blp.arguments(s.PageArgsSchema, location="query", as_kwargs=True, unknown=RAISE)
@sign_offs_blp.response(200, s.SignOffPageOut)
@scope("cases:read")
def pending_sign_offs(limit: int, cursor: str | None):
    """Requests waiting for your decision, oldest first (supervisors; empty for others)."""
    after = decode_cursor(cursor, (datetime, int))
    pending = case_services.pending_sign_offs_for(user())
    if after is not None:
        pending = [p for p in pending if (p.requested_at, p.id) > (after[0], after[1])]
    pending.sort(key=lambda p: (p.requested_at, p.id))
    rows, next_cursor = page(pending[: limit + 1], limit, lambda p: [p.requested_at, p.id])
    return {"items": [present.sign_off(p) for p in rows], "next_cursor": next_cursor}


@sign_offs_blp.route("/sign-offs/<int:sign_off_id>/decision", methods=["POST"])
@case_change(sign_offs_blp, SignOffDecisionSchema, s.SignOffOut)
def decide(values, sign_off_id: int):
    """Approve or reject (with a reason). Four eyes: never the case's facilitator."""
    version = expected_version()
    return write(
        lambda: present.sign_off(case_services.decide_sign_off(actor(), sign_off_id, values, version)),
        s.SignOffOut(),
    )


# --- reference data ---------------------------------------------------------------------


@reference_blp.route("/reference/provinces", methods=["GET"])
@reference_blp.response(200, s.ProvinceOut(many=True))
@scope(None)
def provinces():
    """The 38 provinces with their codes and time zones."""
    return list(db.session.execute(select(Province).order_by(Province.code)).scalars())


@reference_blp.route("/reference/ppks-categories", methods=["GET"])
@reference_blp.response(200, s.PpksCategoryOut(many=True))
@scope(None)
def ppks_categories():
    """The 26 PPKS categories."""
    return list(db.session.execute(select(PpksCategory).order_by(PpksCategory.code)).scalars())


# --- tokens -----------------------------------------------------------------------------


@tokens_blp.route("/tokens", methods=["GET"])
@tokens_blp.response(200, s.TokenListOut)
@scope(None, session_only=True)
def list_tokens():
    """Your tokens, newest first (never their secrets)."""
    return {"items": api_tokens.tokens_of(user())}


@tokens_blp.route("/tokens", methods=["POST"])
@tokens_blp.arguments(s.TokenCreateSchema)
@tokens_blp.response(201, s.TokenCreatedOut)
@tokens_blp.doc(parameters=WRITE_HEADERS)
@scope(None, session_only=True)
def create_token(_values):
    """Create a token with scopes and an expiry. The secret is in this answer only."""
    def work():
        token, secret = api_tokens.create_token(actor(), json_body())
        fields = ("id", "name", "prefix", "scope_list", "created_at", "expires_at", "revoked_at",
                  "last_used_at")
        return {name: getattr(token, name) for name in fields} | {"secret": secret}
    return write(work, s.TokenCreatedOut(), status=201)


@tokens_blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@tokens_blp.response(200, s.TokenOut)
@tokens_blp.doc(parameters=WRITE_HEADERS)
@scope(None, session_only=True)
def revoke_token(token_id: int):
    """Revoke one of your tokens; it stops working at once."""
    return write(lambda: api_tokens.revoke_token(actor(), token_id), s.TokenOut())


BLUEPRINTS = (clients_blp, sign_offs_blp, reference_blp, tokens_blp)
