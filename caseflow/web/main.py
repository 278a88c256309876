"""Landing page: each role starts where its work is."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import Role
from ..security.throttle import storage_reachable
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
    """What the application depends on, for a load balancer and for monitoring: 503 when
    the database cannot be reached (nothing works); 200 "degraded" when only the shared
    throttling storage cannot (sign-in still works, with each worker's own counters).
    No details beyond ok/unreachable: anyone may ask."""
    checks = {"database": "ok", "ratelimit_storage": "ok"}
    try:
        db.session.execute(select(1))
    except Exception:  # noqa: BLE001 - whatever the driver raised, the answer is "unreachable"
        db.session.rollback()
        current_app.logger.exception("health check: the database is unreachable")
        checks["database"] = "unreachable"
    if not storage_reachable():
        checks["ratelimit_storage"] = "unreachable"
    if checks["database"] != "ok":
        return {"status": "failing", "checks": checks}, 503
    return {"status": "ok" if checks["ratelimit_storage"] == "ok" else "degraded", "checks": checks}
