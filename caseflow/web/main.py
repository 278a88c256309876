"""Landing page: each role starts where its work is."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import Role
from .formatting import safe_url_for

bp = Blueprint("main", __name__)

# Each role's start page; the first endpoint that exists wins.
START_PAGES = {
    Role.FACILITATOR: ("cases.my_cases",),
    Role.SUPERVISOR: ("supervision.team",),
    Role.AUDITOR: ("audit.search",),
    Role.PROGRAMME_MANAGER: ("monitoring.overview",),
    Role.ADMIN: ("admin.users",),
}


@bp.route("/")
@login_required
def home():
    for endpoint in START_PAGES.get(current_user.role, ()):
        url = safe_url_for(endpoint)
        if url:
            return redirect(url)
    # A role whose pages are not installed: say so instead of showing an empty page.
    return render_template("main/home.html")


@bp.route("/healthz")
def health():
    db.session.execute(select(1))
    return {"status": "ok"}
