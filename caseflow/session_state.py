"""What a signed-in browser session carries besides Flask-Login's user id, shared by the
web pages (which set it) and the API (which tells the tablet about it).

The tablet's offline cache belongs to one user's one session: the session's random name
and its absolute end let the offline app tell a live session from an ended one, and one
person's cache from another's.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import current_app, session

# Seconds since the epoch: when the person signed in, and when the server last saw them.
SIGNED_IN_AT = "_signed_in_at"
SEEN_AT = "_seen_at"
# A random name for this sign-in; a new sign-in (of anyone) gets a new one.
SESSION_KEY = "_session_key"
# Endpoints that only ask about the session: they must not count as activity, or an open
# tablet asking "am I still signed in?" would keep an idle session alive for ever.
PASSIVE_ENDPOINTS = frozenset({"api_session.current_session"})
# Endpoints that read the signed-in user's sealed offline key: the user is loaded with it
# there (one statement), and without it everywhere else (it is decrypted on every load).
READS_OFFLINE_KEY = frozenset({"api_session.current_session"})


def new_session_key() -> str:
    return secrets.token_urlsafe(18)


def absolute_end() -> datetime | None:
    """When this session ends whatever the person does (CASEFLOW_ABSOLUTE_TIMEOUT_HOURS)."""
    signed_in = session.get(SIGNED_IN_AT)
    if signed_in is None:
        return None
    hours = current_app.config["CASEFLOW_ABSOLUTE_TIMEOUT_HOURS"]
    return datetime.fromtimestamp(signed_in + hours * 3600, UTC)


def idle_end() -> datetime | None:
    """When this session ends if the person does nothing (CASEFLOW_IDLE_TIMEOUT_MINUTES)."""
    seen = session.get(SEEN_AT)
    if seen is None:
        return None
    return datetime.fromtimestamp(seen + current_app.config["CASEFLOW_IDLE_TIMEOUT_MINUTES"] * 60, UTC)
