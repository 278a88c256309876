"""Landing page: each role starts where its work is."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from ..extensions import db
from ..models import Case
from ..services.access import visible_cases

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def home():
    cases = db.session.execute(
        visible_cases(current_user, select(Case)).order_by(Case.stage_due_at).limit(200)
    ).scalars().all()
    return render_template("main/home.html", cases=cases)


@bp.route("/healthz")
def health():
    db.session.execute(select(1))
    return {"status": "ok"}
