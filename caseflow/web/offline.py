"""The tablet's offline app: the service worker at scope '/', and the page that reads the
facilitator's cases from the tablet and queues work in an outbox while there is no signal.
The page talks to /api/v1 only; the service worker keeps the app shell."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, send_from_directory
from flask_login import current_user, login_required

from ..errors import NotAllowed
from ..i18n import _l
from ..models import Role
from ..services.runtime import engines
from . import navigation

bp = Blueprint("offline", __name__)

navigation.register("offline.app_page", _l("Offline work"), (Role.FACILITATOR,), order=15)


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
    return render_template("offline/app.html", editable_records=_editable_records())


def _editable_records() -> dict[str, dict[str, list[str]]]:
    """Which records each stage of each workflow lets the facilitator change (the workflow
    file's `records:`), so the page shows only the forms the cached case's stage allows."""
    return {name: {state: list(definition_state.records)
                   for state, definition_state in workflow.definition.states.items()}
            for name, workflow in engines().items()}

