"""The tablet's offline app: the service worker at scope '/', and the page that reads the
facilitator's cases from the tablet and queues work in an outbox while there is no signal.
The page talks to /api/v1 only; the service worker keeps the app shell."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory
from flask_login import current_user, login_required
from sqlalchemy import select

from ..errors import NotAllowed
from ..extensions import db
from ..i18n import _l
from ..models import PpksCategory, Province, Role
from ..services.runtime import default_workflow_name, engines
from ..web.navigation import register
from ..workflow.definition import current_locale

bp = Blueprint("offline", __name__)


@bp.route("/sw.js")
def service_worker():
    """Served from the root so its scope is the whole site; never cached by HTTP, so a new
    version is picked up on the next visit."""
    response = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript",
                                   max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/offline/")
@login_required
def app_page():
    if current_user.role != Role.FACILITATOR:
        raise NotAllowed(_l("The offline app is for facilitators."))
    locale = current_locale()
    categories = db.session.execute(select(PpksCategory).order_by(PpksCategory.code)).scalars()
    provinces = db.session.execute(select(Province).order_by(Province.name)).scalars()
    return render_template("offline/app.html", workflows=_workflows(locale), default_workflow=default_workflow_name(),
                           category_options=[(c.code, f"{c.code} · {c.name(locale)}") for c in categories],
                           province_options=[(p.code, p.name) for p in provinces])


def _workflows(locale: str) -> dict[str, dict]:
    """What the tablet needs of each workflow file to work offline: every stage (its name in
    the user's language, the records it lets the facilitator change, whether it is final)
    and the moves a facilitator makes themselves, with the guards that must pass first (the
    tablet checks the guards it knows; the server checks them all again)."""
    return {name: {
        "initial": workflow.definition.initial,
        "states": {state: {"label": definition_state.title(locale), "records": list(definition_state.records),
                           "final": definition_state.final}
                   for state, definition_state in workflow.definition.states.items()},
        "transitions": [{"trigger": t.trigger, "sources": list(t.sources), "dest": t.dest,
                         "label": t.title(locale), "guards": list(t.guards),
                         "requires_reason": t.requires_reason}
                        for t in workflow.definition.transitions
                        if Role.FACILITATOR in t.roles and not t.via_sign_off],
    } for name, workflow in engines().items()}


def init_app(app) -> None:
    register("offline.app_page", _l("Offline work"), (Role.FACILITATOR,), order=15)
    app.register_blueprint(bp)
