"""Sign in and out, session timeouts and the language switch.

Tablets are shared, so "remember me" is off by default, a session ends after a period
without activity (CASEFLOW_IDLE_TIMEOUT_MINUTES) and in any case some hours after signing
in (CASEFLOW_ABSOLUTE_TIMEOUT_HOURS).
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..errors import ValidationError
from ..extensions import db
from ..i18n.setup import LOCALES
from ..models import User
from ..services.api_tokens import usable_tokens_of
from ..services.context import Actor
from ..services.users import change_password as change_password_service
from ..services.users import password_matches, record_login, record_logout, set_locale
from ..session_state import PASSIVE_ENDPOINTS, SEEN_AT, SESSION_KEY, SIGNED_IN_AT, new_session_key
from .errors import is_plain_address, render_invalid, safe_return_url

bp = Blueprint("auth", __name__)

# Touching the session on every request would re-send the cookie each time; a minute of
# precision is plenty for a timeout counted in minutes.
_SEEN_RESOLUTION = 60


def request_actor(user=None) -> Actor:
    return Actor.from_request(
        request, user if user is not None else (current_user if current_user.is_authenticated else None))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an absolute or scheme-relative address."""
    if not target or not target.startswith("/") or target.startswith("//") or not is_plain_address(target):
        return None
    return target


@bp.before_app_request
def enforce_session_timeouts():
    if request.endpoint == "static" or not current_user.is_authenticated:
        return None
    now = time.time()
    idle = current_app.config["CASEFLOW_IDLE_TIMEOUT_MINUTES"] * 60
    absolute = current_app.config["CASEFLOW_ABSOLUTE_TIMEOUT_HOURS"] * 3600
    signed_in = session.get(SIGNED_IN_AT)
    seen = session.get(SEEN_AT)
    if signed_in is None or seen is None:
        # Restored from a "remember me" cookie: its lifetime is bounded by the absolute
        # timeout, and the idle clock starts now.
        session[SIGNED_IN_AT] = session[SEEN_AT] = now
        session[SESSION_KEY] = new_session_key()
        return None
    if SESSION_KEY not in session:  # signed in before sessions were named
        session[SESSION_KEY] = new_session_key()
    if now - seen > idle or now - signed_in > absolute:
        logout_user()
        session.clear()
        if request.path.startswith("/api/"):
            return None  # signed out now: the API answers 401 problem+json itself
        flash(_("Your session ended after a period without activity. Sign in again."), "info")
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("auth.login"))
    if now - seen >= _SEEN_RESOLUTION and request.endpoint not in PASSIVE_ENDPOINTS:
        session[SEEN_AT] = now
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    error = None
    if request.method == "POST":
        username = (request.form.get("username") or "").strip().lower()
        password = request.form.get("password") or ""
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        ok = password_matches(user, password)
        if ok and not user.active:
            record_login(request_actor(user), user, username, success=False)
            error = _("This account is deactivated. Ask your administrator.")
        elif not ok:
            record_login(request_actor(), user, username, success=False)
            # The same words whichever part was wrong: nothing tells which usernames exist.
            error = _("Wrong username or password.")
        else:
            target = _safe_next(request.form.get("next"))
            # A fresh session at login: nothing from before (a fixation attempt, another
            # person's choices) carries over, except the language chosen on this page.
            chosen_locale = session.get("locale")
            session.clear()
            record_login(request_actor(user), user, username, success=True)
            remember = request.form.get("remember") == "1"
            login_user(user, remember=remember,
                       duration=timedelta(hours=current_app.config["CASEFLOW_ABSOLUTE_TIMEOUT_HOURS"]))
            session[SIGNED_IN_AT] = session[SEEN_AT] = time.time()
            session[SESSION_KEY] = new_session_key()
            if chosen_locale in LOCALES and chosen_locale != user.locale:
                # Chosen on the sign-in page just now: it becomes the account's language.
                set_locale(request_actor(user), chosen_locale)
            return redirect(target or url_for("main.home"))
    return render_template(
        "auth/login.html", error=error, username=request.form.get("username", ""),
        next=_safe_next(request.values.get("next")) or "",
    ), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    record_logout(request_actor())
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def switch_language():
    """Signed in: remembered on the account (and audited). Signed out: for this session."""
    locale = request.form.get("locale", "")
    if locale not in LOCALES:
        raise ValidationError(_("Unknown language."), fields={"locale": [_("Choose Indonesian or English.")]})
    if current_user.is_authenticated:
        set_locale(request_actor(), locale)
        session.pop("locale", None)
    else:
        session["locale"] = locale
    return redirect(safe_return_url(url_for("main.home")), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password. Every other session of the account ends; this one is
    issued again so the person can carry on."""
    if request.method == "GET":
        return render_template("auth/password.html", errors={}, form={},
                               tokens=usable_tokens_of(current_user))
    tokens_before = len(usable_tokens_of(current_user))
    try:
        user = change_password_service(request_actor(), {
            "current_password": request.form.get("current_password", ""),
            "new_password": request.form.get("new_password", ""),
        })
    except ValidationError as error:
        return render_invalid("auth/password.html", error, form={}, tokens=usable_tokens_of(current_user))
    signed_in_at, session_key = session.get(SIGNED_IN_AT), session.get(SESSION_KEY)
    login_user(user, duration=timedelta(hours=current_app.config["CASEFLOW_ABSOLUTE_TIMEOUT_HOURS"]))
    session[SIGNED_IN_AT] = signed_in_at or time.time()
    session[SEEN_AT] = time.time()
    session[SESSION_KEY] = session_key or new_session_key()
    flash(_("Your password is changed. You were signed out everywhere else."), "success")
    if tokens_before:
        flash(_("Your %(n)s API token(s) were revoked with the old password; create new ones if a "
                "system still needs them.", n=tokens_before), "info")
    return redirect(url_for("main.home"), code=303)
