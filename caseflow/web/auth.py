"""Sign in and out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..extensions import db
from ..models import User
from ..services.context import Actor
from ..services.users import password_matches, record_login, record_logout

bp = Blueprint("auth", __name__)


def request_actor(user=None) -> Actor:
    return Actor(
        user=user if user is not None else (current_user if current_user.is_authenticated else None),
        origin_ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
        via="web",
    )


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
            error = _("Wrong username or password.")
        else:
            session.clear()  # a fresh session at login: nothing from before carries over
            record_login(request_actor(user), user, username, success=True)
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(url_for("main.home"))
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    record_logout(request_actor())
    logout_user()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("auth.login"))
