"""Evidence for auditors: export verifiable packages (a case, a facilitator over a period),
the server's public key, and who has seen a client's data."""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, Response, abort, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..audit.package import key_fingerprint
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Case, Role, User
from ..services import evidence
from ..services.audit import public_key_pem
from . import navigation
from .auth import request_actor
from .errors import render_invalid

bp = Blueprint("evidence", __name__, url_prefix="/audit")

navigation.register("evidence.index", _l("Evidence"), (Role.AUDITOR,), order=60)


@bp.before_request
@login_required
def _auditors_only():
    if current_user.role != Role.AUDITOR:
        abort(403)


def _facilitators() -> list[User]:
    statement = select(User).where(User.role == Role.FACILITATOR).order_by(User.full_name)
    if current_user.auditor_scope_province_code:
        statement = statement.where(User.province_code == current_user.auditor_scope_province_code)
    return list(db.session.execute(statement).scalars())


def _page(status: int = 200, **context):
    pem = public_key_pem()
    facilitators = [(u.id, f"{u.full_name} ({u.username})") for u in _facilitators()]
    return render_template("evidence/index.html", public_key=pem, fingerprint=key_fingerprint(pem),
                           facilitators=facilitators, form=context.pop("form", request.form),
                           errors=context.pop("errors", {}), **context), status


@bp.route("/evidence")
def index():
    return _page()


def _zip(package: evidence.ExportedPackage) -> Response:
    response = send_file(io.BytesIO(package.data), mimetype="application/zip", as_attachment=True,
                         download_name=package.filename)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-SHA256"] = package.sha256
    return response


@bp.route("/evidence/case", methods=["POST"])
def export_case():
    """By case number (the evidence page) or by id (a button on the case page)."""
    case_id = request.form.get("case_id", "")
    number = (request.form.get("case_number") or "").strip()
    if case_id.isdigit():
        found = int(case_id)
    else:
        found = db.session.execute(select(Case.id).where(Case.number == number)).scalar_one_or_none()
    if found is None:
        error = ValidationError(_("No case with this number in your scope."),
                                fields={"case_number": [_("No case with this number in your scope.")]})
        return _invalid(error)
    try:
        return _zip(evidence.export_case_package(request_actor(), found))
    except NotFound:
        error = ValidationError(_("No case with this number in your scope."),
                                fields={"case_number": [_("No case with this number in your scope.")]})
        return _invalid(error)


@bp.route("/evidence/facilitator", methods=["POST"])
def export_facilitator():
    errors: dict[str, list[str]] = {}
    facilitator_id = request.form.get("facilitator_id", "")
    if not facilitator_id.isdigit():
        errors["facilitator_id"] = [_("Choose a facilitator.")]
    dates = {}
    for name in ("from", "until"):
        try:
            dates[name] = date.fromisoformat(request.form.get(name, ""))
        except ValueError:
            errors[name] = [_("Enter a date (YYYY-MM-DD).")]
    if errors:
        return _invalid(ValidationError(_("Some fields need attention."), fields=errors))
    try:
        package = evidence.export_facilitator_package(request_actor(), int(facilitator_id),
                                                      dates["from"], dates["until"])
    except NotFound:
        return _invalid(ValidationError(_("Choose a facilitator."),
                                        fields={"facilitator_id": [_("Choose a facilitator.")]}))
    except ValidationError as error:
        return _invalid(error)
    return _zip(package)


def _invalid(error: ValidationError):
    pem = public_key_pem()
    facilitators = [(u.id, f"{u.full_name} ({u.username})") for u in _facilitators()]
    return render_invalid("evidence/index.html", error, public_key=pem, fingerprint=key_fingerprint(pem),
                          facilitators=facilitators)


@bp.route("/public-key.pem")
def public_key():
    return Response(public_key_pem(), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": "attachment; filename=caseflow-audit-public-key.pem"})


@bp.route("/clients/<int:client_id>/viewers")
def client_viewers(client_id: int):
    client, sightings = evidence.client_viewers(request_actor(), client_id)
    return render_template("evidence/viewers.html", client=client, sightings=sightings)
