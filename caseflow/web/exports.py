"""The page of a long case-list export: its progress bar (polled from the status JSON by
static/js/app.js, like an import's), then the download, until the file is deleted.
Only the person who asked sees any of it; everyone else finds nothing (404)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..transfers import export_jobs, progress
from .auth import request_actor
from .reports import CASE_READERS, _filter_args

bp = Blueprint("exports", __name__, url_prefix="/reports/exports")


@bp.before_request
@login_required
def _case_readers_only():
    if current_user.role not in CASE_READERS:
        abort(403)


def _list_args(wanted: export_jobs.CaseList) -> dict:
    args = _filter_args(wanted.filters)
    if wanted.key is not None:
        args["key"] = wanted.key
    if wanted.by:
        args["by"] = wanted.by
    return args


@bp.route("/<token>")
def show(token: str):
    job = export_jobs.get_export_job(current_user, token)
    done, total = progress.read(job)
    wanted = export_jobs.case_list(job)
    return render_template("reports/export_job.html", job=job, done=done, total=total, wanted=wanted,
                           stored=export_jobs.stored_file(job), list_args=_list_args(wanted))


@bp.route("/<token>/status.json")
def status(token: str):
    job = export_jobs.get_export_job(current_user, token)
    done, total = progress.read(job)
    return jsonify(status=job.status, done=done, total=total, message=job.message)


@bp.route("/<token>/file")
def download(token: str):
    found = export_jobs.download(request_actor(), token)
    if found is None:
        flash(_("This file is no longer kept. Export the list again."), "info")
        return redirect(url_for("exports.show", token=token), code=303)
    response = Response(found.parts, content_type=found.content_type)  # its charset included
    response.headers["Content-Length"] = str(found.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<token>/delete", methods=["POST"])
def delete(token: str):
    job = export_jobs.delete_file(request_actor(), token)
    flash(_("The file was deleted."), "info")
    return redirect(url_for("exports.show", token=job.token), code=303)
