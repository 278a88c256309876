"""Importing existing registers: template download, upload with a per-row check,
then apply the valid rows or discard everything. Progress is polled from wherever
`transfers.progress` keeps it (static/js/app.js follows the status JSON)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import CaseflowError, TooMany, ValidationError
from ..i18n import _l
from ..models import Role
from ..transfers import imports, jobs, progress
from . import navigation
from .auth import request_actor

bp = Blueprint("imports", __name__, url_prefix="/imports")

IMPORTERS = (Role.FACILITATOR, Role.SUPERVISOR)
navigation.register("imports.upload", _l("Import a register"), IMPORTERS, order=65, menu="user")


def _require_importer() -> None:
    if current_user.role not in IMPORTERS:
        abort(403)


@bp.route("/template.<fmt>")
@login_required
def template(fmt: str):
    _require_importer()
    if fmt == "xlsx":
        body, kind = imports.template_xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "csv":
        body, kind = imports.template_csv(), "text/csv; charset=utf-8"
    else:
        abort(404)
    response = Response(body, content_type=kind)  # kind names its charset already
    response.headers["Content-Disposition"] = f'attachment; filename="caseflow-import-template.{fmt}"'
    return response


@bp.route("/", methods=["GET", "POST"])
@login_required
def upload():
    _require_importer()
    if request.method == "GET":
        return render_template("imports/upload.html", columns=imports.COLUMNS)
    upload_file = request.files.get("file")
    try:
        if upload_file is None or not upload_file.filename:
            raise ValidationError(_l("Choose a file to upload."), fields={"file": [_l("Choose a file to upload.")]})
        limits = imports.ImportLimits.from_config()
        rows = imports.read_table(upload_file.filename, upload_file.read(limits.max_bytes + 1), limits)
        actor = request_actor()
        checks = imports.check_rows(actor, rows)
        job = jobs.create_import_job(actor, upload_file.filename, checks)
    except (ValidationError, TooMany) as error:
        messages = [str(m) for values in (error.fields or {}).values() for m in values] or [str(error.message)]
        return render_template("imports/upload.html", columns=imports.COLUMNS, file_errors=messages), error.status
    return redirect(url_for("imports.show", token=job.token))


@bp.route("/<token>")
@login_required
def show(token: str):
    _require_importer()
    job = jobs.get_job(current_user, token)
    summary = jobs.check_summary(job) if job.status == "checked" else None
    done, total = progress.read(job)
    return render_template("imports/show.html", job=job, summary=summary, done=done, total=total,
                           columns=imports.COLUMN_NAMES)


@bp.route("/<token>/status.json")
@login_required
def status(token: str):
    _require_importer()
    job = jobs.get_job(current_user, token)
    done, total = progress.read(job)
    return jsonify(status=job.status, done=done, total=total, message=job.message)


@bp.route("/<token>/apply", methods=["POST"])
@login_required
def apply(token: str):
    _require_importer()
    try:
        jobs.start_import(request_actor(), token)
    except CaseflowError as error:
        flash(str(error.message), "error")
    return redirect(url_for("imports.show", token=token))


@bp.route("/<token>/discard", methods=["POST"])
@login_required
def discard(token: str):
    _require_importer()
    try:
        jobs.discard(current_user, token)
        flash(_("Nothing was imported."), "info")
    except CaseflowError as error:
        flash(str(error.message), "error")
    return redirect(url_for("imports.upload"))
