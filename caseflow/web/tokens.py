"""The owner's page for personal access tokens: create (the secret is shown once), list,
revoke. Integrations then call /api/v1 with `Authorization: Bearer …`."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import NotAllowed, ValidationError
from ..i18n import _l
from ..models import Role
from ..schemas import ascii_number
from ..services import api_tokens
from .auth import request_actor
from .errors import render_invalid
from .navigation import register

bp = Blueprint("tokens", __name__, url_prefix="/tokens")

register("tokens.index", _l("API tokens"), (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR), order=90,
         menu="user")

SCOPE_LABELS = {
    "cases:read": _l("Read cases, clients and steps"),
    "cases:write": _l("Change cases: records, steps, transitions, decisions"),
    "audit:read": _l("Read audit events"),
}


def _page(**context):
    allowed = api_tokens.scopes_for(current_user)
    return render_template(
        "tokens/index.html", tokens=api_tokens.tokens_of(current_user),
        scope_options=[(s, SCOPE_LABELS.get(s, s)) for s in allowed], **context,
    )


@bp.route("/", methods=["GET"])
@login_required
def index():
    if not api_tokens.scopes_for(current_user):
        raise NotAllowed(_l("Your role does not use the API."))
    return _page(form={}, errors={})


@bp.route("/", methods=["POST"])
@login_required
def create():
    data = {
        "name": (request.form.get("name") or "").strip(),
        "scopes": request.form.getlist("scopes"),
        "expires_in_days": request.form.get("expires_in_days", "90"),
    }
    days = ascii_number(data["expires_in_days"])
    if days is not None:
        data["expires_in_days"] = days
    try:
        token, secret = api_tokens.create_token(request_actor(), data)
    except ValidationError as error:
        return render_invalid("tokens/index.html", error, tokens=api_tokens.tokens_of(current_user),
                              scope_options=_scope_options())
    return _page(form={}, errors={}, created=token, secret=secret), 201


def _scope_options():
    return [(s, SCOPE_LABELS.get(s, s)) for s in api_tokens.scopes_for(current_user)]


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    token = api_tokens.revoke_token(request_actor(), token_id)
    flash(_("The token “%(name)s” is revoked; it no longer works.", name=token.name), "info")
    return redirect(url_for("tokens.index"), code=303)
