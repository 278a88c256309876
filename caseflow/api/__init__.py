"""The JSON API (/api/v1): the same services and schemas as the web pages, documented as
OpenAPI 3 at /api/v1/openapi.json with a browsable page at /api/v1/docs."""

from __future__ import annotations

import http

from flask import Blueprint, Flask, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from ..extensions import csrf
from ..schemas.api import ProblemSchema
from .aftercare import blp as aftercare_blp
from .agenda import blp as agenda_blp
from .attachments import blp as attachments_blp
from .cases import blp as cases_blp
from .clients import blp as client_list_blp
from .common import API_PREFIX, PROBLEM_MIMETYPE, http_problem
from .offline import init_app as init_offline
from .outbox import blp as outbox_blp
from .people import BLUEPRINTS
from .referrals import blp as referrals_blp
from .session import blp as session_blp
from .targets import blp as targets_blp

docs_blp = Blueprint("api_docs_page", __name__, url_prefix=API_PREFIX)


class CaseflowApi(Api):
    """flask-smorest with RFC 9457 problems as the documented error shape; the app's own
    handlers (web pages, problem+json under /api/) answer errors, not flask-smorest's."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = ProblemSchema
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "A problem (RFC 9457), with `errors` naming the fields at fault",
                    "schema": ProblemSchema}
        prepare_response(response, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


api = CaseflowApi()


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Caseflow API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": (
            "Cases, clients, stage records, steps, transitions, sign-offs, reassignments, audit "
            "events and reference data. Sign in (browser session; send the X-CSRFToken header "
            "on writes) or use a personal access token: `Authorization: Bearer cf_…`. Every "
            "write accepts `Idempotency-Key`; writes on a case accept `If-Match` with the case "
            "version from the ETag. Errors are application/problem+json (RFC 9457)."
        )},
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "Personal access token (cf_…)"},
            "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
        }},
    })
    api.init_app(app)

    for blueprint in (cases_blp, outbox_blp, *BLUEPRINTS, session_blp, client_list_blp, referrals_blp,
                      aftercare_blp, agenda_blp, targets_blp, attachments_blp):
        csrf.exempt(blueprint)  # checked in authenticate(): session writes only, not bearer
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_blp)
    _answer_unrouted_api_errors(app)

    init_offline(app)


def _answer_unrouted_api_errors(app: Flask) -> None:
    """A path under /api/ that matches no route (404, 405, or a 400 from the checks that
    run before routing is looked at) belongs to no blueprint: it is
    answered here as problem+json, anything else by the handler the web layer installed."""
    fallback = app.error_handler_spec[None][None].get(HTTPException)

    def handler(error: HTTPException) -> ResponseReturnValue:
        if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/") \
                or request.path.startswith("/api/"):
            return http_problem(error)
        return fallback(error) if fallback else error

    for code in (400, 404, 405):
        app.register_error_handler(code, handler)


@docs_blp.route("/docs", methods=["GET"])
def docs_page() -> str:
    """Swagger UI, served from the app's own static files (no CDN, no inline script)."""
    return render_template("tokens/api_docs.html", spec_url=url_for("api-docs.openapi_json"))
