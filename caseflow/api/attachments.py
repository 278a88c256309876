"""Attachments (lampiran) of a case: the list, one file, and adding one (the tablet sends
them through its outbox, kind 'attachment'; this is the same service, alone)."""

from __future__ import annotations

from flask import Response

from ..schemas import api as s
from ..services import attachments as attachment_services
from ..services import cases as case_services
from .common import CASE_WRITE_HEADERS, actor, json_body, make_blueprint, scope, user, write

blp = make_blueprint("api_attachments", "Attachments: photos, documents and consent signatures of a case.")

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


@blp.route("/cases/<int:case_id>/attachments", methods=["GET"])
@blp.response(200, s.AttachmentOut(many=True))
@scope("cases:read")
def list_attachments(case_id: int):
    """The case's attachments (what they are and their hash, not their content)."""
    return attachment_services.attachments_of(user(), case_services.get_case(user(), case_id))


@blp.route("/cases/<int:case_id>/attachments", methods=["POST"])
@blp.arguments(s.AttachmentUploadSchema)
@blp.response(201, s.AttachmentOut)
@blp.doc(parameters=CASE_WRITE_HEADERS)
@scope("cases:write")
def add_attachment(_values, case_id: int):
    """Keep a photo (JPEG, PNG), a PDF document or a consent signature with the case; the
    type is found from the content, the size is limited."""
    return write(lambda: attachment_services.add_attachment(actor(), case_id, json_body()),
                 s.AttachmentOut(), status=201)


@blp.route("/attachments/<int:attachment_id>", methods=["GET"])
@blp.response(200, content_type="application/octet-stream")
@scope("cases:read")
def get_attachment(attachment_id: int):
    """The file, for whoever may open its case; the view is recorded in the case's trail."""
    attachment, content = attachment_services.read_attachment(actor(), attachment_id)
    response = Response(content, mimetype=attachment.content_type)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = (
        f'inline; filename="lampiran-{attachment.id}.{EXTENSIONS.get(attachment.content_type, "bin")}"')
    return response
