"""The browser session as the tablet's offline app needs to know it: whose it is, its
random name, when it ends, and the key that seals this person's unsent work. A 401 here
means the session has ended: the tablet then hides the cached cases at once.

Asking is not activity: it does not push back the idle timeout."""

from __future__ import annotations

from flask import session

from ..schemas import api as s
from ..services.users import offline_key
from ..session_state import SESSION_KEY, absolute_end, idle_end
from .common import actor, make_blueprint, scope, user

blp = make_blueprint("api_session", "The signed-in session (for the tablet's offline app).")


@blp.route("/session", methods=["GET"])
@blp.response(200, s.SessionOut)
@scope(None, session_only=True)
def current_session():
    """Whose session this is and when it ends; tokens are refused (a session only)."""
    return ({"user_id": user().id, "session": session.get(SESSION_KEY, ""), "expires_at": absolute_end(),
             "idle_expires_at": idle_end(), "outbox_key": offline_key(actor())},
            200, {"Cache-Control": "no-store"})
