"""Sign-in throttling per account and per address (Flask-Limiter).

Only failed attempts count (the sign-in page answers 401 to a wrong password). Once an
account or an address has failed too often in the window, every further attempt — even
with the right password — gets a clear "wait and try again" page (429) until the window
has passed. Counters live in RATELIMIT_STORAGE_URI: Redis when configured (several
workers share them), memory otherwise (one process).

Every failed and successful sign-in is audited by the sign-in view itself; refused
attempts are not written one by one, so a flood cannot fill the audit trail.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address

from ..extensions import limiter

DEFAULT_ACCOUNT_LIMIT = "5 per 15 minutes"
DEFAULT_ADDRESS_LIMIT = "30 per 15 minutes"


def _account_key() -> str:
    body = request.get_json(silent=True) if request.is_json else None
    username = request.form.get("username") or (body.get("username") if isinstance(body, dict) else None)
    username = str(username or "").strip().lower()[:64]
    return f"login-account:{username}"


def _address_key() -> str:
    return f"login-address:{get_remote_address()}"


def _failed(response) -> bool:
    return response.status_code == 401


def _locked_out(limit: RequestLimit):
    if request.path.startswith("/api/"):
        return None  # the API answers 429 as problem+json itself
    minutes = max(1, math.ceil((limit.reset_at - time.time()) / 60))
    message = _("Too many failed sign-in attempts for this account or from this address. "
                "Wait %(minutes)s minutes and try again, or ask your administrator.", minutes=minutes)
    return make_response(render_template("auth/login.html", error=message,
                                         username=request.form.get("username", ""), next=""), 429)


# Created once: Flask-Limiter keeps decorated limits per view name, so wrapping the view
# again for another application (tests build many) must reuse the same limit objects.
_per_account = limiter.limit(
    lambda: current_app.config.get("CASEFLOW_LOGIN_LIMIT_ACCOUNT", DEFAULT_ACCOUNT_LIMIT),
    key_func=_account_key, methods=["POST"], deduct_when=_failed, on_breach=_locked_out,
    scope="login-account")
_per_address = limiter.limit(
    lambda: current_app.config.get("CASEFLOW_LOGIN_LIMIT_ADDRESS", DEFAULT_ADDRESS_LIMIT),
    key_func=_address_key, methods=["POST"], deduct_when=_failed, on_breach=_locked_out,
    scope="login-address")


def throttle_login(view: Callable) -> Callable:
    """Wrap a sign-in view (HTML or API) with the per-account and per-address limits."""
    return _per_address(_per_account(view))


def init_app(app: Flask, endpoint: str = "auth.login") -> None:
    app.view_functions[endpoint] = throttle_login(app.view_functions[endpoint])
