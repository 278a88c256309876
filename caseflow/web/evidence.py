"""Evidence for auditors: export verifiable packages (a case, a facilitator over a period),
the server's public key, and who has seen a client's data."""

from __future__ import annotations

import io
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..audit.package import UnreadablePackage, describe, key_fingerprint, verify_package
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import AccountChange, Case, Role, User
from ..models.sign_off_policy import Delegation
from ..schemas import parse_row_id
from ..services import evidence
from ..services import sign_off_policy as policy
from ..services.audit import public_key_pem
from . import navigation
from .auth import request_actor
from .errors import field_errors, render_invalid

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
    found = parse_row_id(request.form.get("case_id", ""))
    number = (request.form.get("case_number") or "").strip()
    if found is None:
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
    facilitator_id = parse_row_id(request.form.get("facilitator_id", ""))
    if facilitator_id is None:
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
        package = evidence.export_facilitator_package(request_actor(), facilitator_id,
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


# What each kind of problem the verifier names means, in words.
PROBLEM_NAMES = {
    "file": _l("A file of the package was changed, added or removed"),
    "key": _l("The server key in the package is not the expected one"),
    "signature": _l("The signature of the package's list of files does not hold"),
    "altered": _l("An event was altered"),
    "removed": _l("An event was removed"),
    "inserted": _l("An event was inserted"),
    "reordered": _l("Events were reordered"),
    "truncated": _l("A chain was cut short"),
    "checkpoint": _l("A chain does not match its signed checkpoint"),
    "scope": _l("The facilitator's events are not marked as exported"),
}
CHECKS = (
    (("file", "signature"), _l("No file of the package was changed")),
    (("altered", "removed", "inserted", "reordered", "truncated"),
     _l("No event was altered, removed, inserted or reordered")),
    (("checkpoint", "key"), _l("Every chain matches the checkpoints signed by the server")),
)


@bp.route("/evidence/verify", methods=["GET", "POST"])
def verify():
    """Check an uploaded evidence package with the package alone (the same checks and the
    same result as `caseflow audit verify-package`); the database is not consulted. Its key
    is then compared with this server's."""
    if request.method == "GET":
        return render_template("evidence/verify.html", report=None, errors={})
    upload = request.files.get("package")
    if upload is None or not upload.filename:
        return render_invalid("evidence/verify.html", ValidationError(
            _("Choose the package's ZIP file."), fields={"package": [_("Choose the package's ZIP file.")]}),
            report=None)
    try:
        report = verify_package(upload.read())
    except UnreadablePackage as exc:
        message = _("This file is not a readable Caseflow evidence package (%(reason)s).", reason=str(exc))
        return render_invalid("evidence/verify.html", ValidationError(message, fields={"package": [message]}),
                              report=None)
    kinds = report.kinds()
    checks = [(str(label), not (kinds & set(group))) for group, label in CHECKS]
    problems = [(str(PROBLEM_NAMES.get(p.kind, p.kind)), p.message) for p in report.problems]
    return render_template("evidence/verify.html", report=report, checks=checks, problems=problems,
                           filename=upload.filename, lines=list(describe(report)),
                           this_server=report.key_fingerprint == key_fingerprint(public_key_pem()),
                           errors={})


@bp.route("/public-key.pem")
def public_key():
    return Response(public_key_pem(), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": "attachment; filename=caseflow-audit-public-key.pem"})


@bp.route("/clients/<int:client_id>/viewers")
def client_viewers(client_id: int):
    client, sightings = evidence.client_viewers(request_actor(), client_id)
    return render_template("evidence/viewers.html", client=client, sightings=sightings)


# --- sign-off policies: notifications and acting supervisors -----------------------------

policy_bp = Blueprint("sign_off_policy", __name__)

navigation.register("sign_off_policy.notifications", _l("Notifications"),
                    (Role.FACILITATOR, Role.SUPERVISOR, Role.ADMIN), order=70)
navigation.register("sign_off_policy.delegations", _l("Acting supervisors"),
                    (Role.SUPERVISOR, Role.ADMIN), order=75)


@policy_bp.before_request
@login_required
def _signed_in():
    return None


@policy_bp.route("/notifications", methods=["GET", "POST"])
def notifications():
    if request.method == "POST":
        policy.mark_notifications_read(request_actor())
        return redirect(url_for("sign_off_policy.notifications"), code=303)
    items = policy.notifications_for(current_user)
    return render_template("evidence/notifications.html", items=items, text=policy.notification_text)


def _delegation_page(status: int = 200, **context):
    statement = select(Delegation).order_by(Delegation.starts_on.desc()).limit(100)
    if current_user.role == Role.SUPERVISOR:
        statement = statement.where((Delegation.supervisor_id == current_user.id)
                                    | (Delegation.acting_id == current_user.id))
    supervisors = db.session.execute(
        select(User).where(User.role == Role.SUPERVISOR, User.active.is_(True)).order_by(User.full_name)
    ).scalars().all()
    return render_template(
        "evidence/delegations.html", delegations=db.session.execute(statement).scalars().all(),
        supervisors=[(u.id, f"{u.full_name} ({u.username})") for u in supervisors],
        form=context.pop("form", request.form), errors=context.pop("errors", {}), **context), status


@policy_bp.route("/delegations", methods=["GET", "POST"])
def delegations():
    if current_user.role not in (Role.SUPERVISOR, Role.ADMIN):
        abort(403)
    if request.method == "POST":
        try:
            done = policy.delegate_supervisor(request_actor(), request.form.to_dict())
        except ValidationError as error:
            return _delegation_page(422, errors=field_errors(error), error_summary=str(error.message))
        if isinstance(done, AccountChange):
            flash(_("The acting supervisor takes over once a second administrator confirms it "
                    "(see “Waiting for confirmation”)."), "info")
        else:
            flash(_("The acting supervisor is recorded."), "success")
        return redirect(url_for("sign_off_policy.delegations"), code=303)
    return _delegation_page()


@policy_bp.route("/delegations/<int:delegation_id>/end", methods=["POST"])
def end_delegation(delegation_id: int):
    policy.revoke_delegation(request_actor(), delegation_id)
    flash(_("The delegation has ended."), "success")
    return redirect(url_for("sign_off_policy.delegations"), code=303)
