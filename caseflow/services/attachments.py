"""Attachments (lampiran): a photo of a home visit, a scanned document, a consent signature,
kept with a case (and the step it documents).

The content is stored outside the database, encrypted with the keys of the encrypted
fields (AES-GCM, bound to the file's own name, so a file swapped for another does not
open). Its type is found from the content, never from a name the tablet gave; its size is
limited. It is shown exactly to the people who may open the case, every view is recorded,
and the audit trail names it by its hash, never its content."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import select

from ..database import utcnow, write_transaction
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Attachment, Case, Role, Step
from ..models.attachment import PURPOSES
from ..security.fields import FieldKeyError, keyring
from . import access
from .audit import append_case_event
from .context import Actor
from .locking import lock_case

MAX_BYTES_DEFAULT = 1_400_000  # a base64 copy still fits in one request (MAX_CONTENT_LENGTH)
FORMAT = b"CFA1"
# What a file starts with, by the type it is: the only types accepted.
SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"%PDF-", "application/pdf"))
WRITERS = (Role.FACILITATOR, Role.SUPERVISOR)


def storage_dir() -> Path:
    configured = current_app.config.get("CASEFLOW_ATTACHMENTS_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "attachments"


def max_bytes() -> int:
    return int(current_app.config.get("CASEFLOW_ATTACHMENT_MAX_BYTES", MAX_BYTES_DEFAULT))


def sniff(content: bytes) -> str | None:
    """The type the content is, by its first bytes; None if not one we accept."""
    return next((kind for magic, kind in SIGNATURES if content.startswith(magic)), None)


def _seal(content: bytes, name: str) -> bytes:
    ring = keyring()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(ring.keys[0]).encrypt(nonce, content, f"attachment:{name}".encode())
    return FORMAT + ring.current_id.encode() + nonce + sealed


def _open(stored: bytes, name: str) -> bytes:
    ring = keyring()
    key_id = stored[len(FORMAT):len(FORMAT) + 8].decode("ascii", "replace")
    key = next((k for k in ring.keys if ring.key_id(k) == key_id), None)
    if not stored.startswith(FORMAT) or key is None:
        raise FieldKeyError(f"attachment {name}: not encrypted with a configured key")
    body = stored[len(FORMAT) + 8:]
    try:
        return AESGCM(key).decrypt(body[:12], body[12:], f"attachment:{name}".encode())
    except InvalidTag as exc:
        raise FieldKeyError(f"attachment {name}: the file was altered or swapped") from exc


def decode_content(value) -> bytes:
    """The content as the tablet sent it (base64 in JSON), or a refusal naming `data`."""
    if not isinstance(value, str) or not value:
        raise ValidationError(_l("The file is missing."), fields={"data": [_l("The file is missing.")]})
    if len(value) > max_bytes() * 4 // 3 + 8:
        raise _too_large()
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(_l("The file could not be read."),
                              fields={"data": [_l("The file could not be read.")]}) from None


def _too_large() -> ValidationError:
    message = _l("The file is larger than %(n)s kB.", n=max_bytes() // 1000)
    return ValidationError(message, fields={"data": [message]})


def add_attachment(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Attachment:
    """Keep a photo, document or signature with a case the actor works on (its facilitator,
    or their supervisor), optionally with one of its steps. The case's version does not
    move: an attachment adds evidence, it changes nothing of the case."""
    purpose = data.get("purpose")
    if purpose not in PURPOSES:
        raise ValidationError(_l("Unknown kind of attachment."), fields={"purpose": [_l("Unknown kind of attachment.")]})
    content = decode_content(data.get("data"))
    if len(content) > max_bytes():
        raise _too_large()
    content_type = sniff(content)
    if content_type is None:
        message = _l("Only photos (JPEG, PNG) and PDF documents can be attached.")
        raise ValidationError(message, fields={"data": [message]})
    if purpose.startswith("consent_") and content_type == "application/pdf":
        message = _l("A signature is an image.")
        raise ValidationError(message, fields={"data": [message]})
    with write_transaction():
        case = db.session.get(Case, case_id)
        if case is None or actor.user is None or not access.can_view_case(actor.user, case):
            raise NotFound(_l("No such case."))  # recorded as access.denied where it is answered
        access.require_case_role(actor.user, case, WRITERS, _l("attach files to this case"))
        case = lock_case(case_id)
        step_id = data.get("step_id")
        if step_id is not None:
            step = db.session.get(Step, step_id) if isinstance(step_id, int) else None
            if step is None or step.case_id != case.id:
                raise ValidationError(_l("Unknown step."), fields={"step_id": [_l("Unknown step.")]})
        name = secrets.token_hex(16)
        attachment = Attachment(case_id=case.id, client_id=case.client_id, step_id=step_id, purpose=purpose,
                                content_type=content_type, size=len(content),
                                sha256=hashlib.sha256(content).hexdigest(), storage_name=name,
                                created_by_id=actor.user.id, created_at=utcnow())
        db.session.add(attachment)
        db.session.flush()
        append_case_event(case, action="attachment.added", actor=actor, after={
            "attachment_id": attachment.id, "purpose": purpose, "content_type": content_type,
            "size": len(content), "sha256": attachment.sha256, "step_id": step_id})
        _write(name, _seal(content, name))
    return attachment


def _write(name: str, sealed: bytes) -> None:
    directory = storage_dir()
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{name}.part"
    with open(temporary, "wb") as handle:
        handle.write(sealed)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / name)


def read_attachment(actor: Actor, attachment_id: int) -> tuple[Attachment, bytes]:
    """The attachment's content, for whoever may open its case; the view is recorded."""
    with write_transaction():
        attachment = db.session.get(Attachment, attachment_id)
        case = db.session.get(Case, attachment.case_id) if attachment else None
        if case is None or actor.user is None or not access.can_view_case(actor.user, case):
            raise NotFound(_l("No such attachment."))  # recorded as access.denied where it is answered
        case = lock_case(case.id)
        append_case_event(case, action="attachment.viewed", actor=actor,
                          context={"attachment_id": attachment.id, "sha256": attachment.sha256})
    return attachment, _open((storage_dir() / attachment.storage_name).read_bytes(), attachment.storage_name)


def signature_to_print(actor: Actor, case_id: int, purposes: tuple[str, ...],
                       document: str) -> tuple[Attachment, bytes] | None:
    """The consent signature a printed document of the case shows, decrypted: the latest of
    the first kind in `purposes` the case has (the termination record asks for the
    termination's, then the registration's), or None. Only for whoever may open the case;
    printing it is recorded as a view of the attachment, naming the document. A file gone
    or altered prints as an empty signing line (and is logged), not as a failed document."""
    if not purposes or any(purpose not in PURPOSES or not purpose.startswith("consent_") for purpose in purposes):
        raise ValueError(f"not consent signatures: {purposes!r}")
    with write_transaction():
        case = db.session.get(Case, case_id)
        if case is None or actor.user is None or not access.can_view_case(actor.user, case):
            raise NotFound(_l("No such case."))  # recorded as access.denied where it is answered
        if case.client.anonymised_at is not None:
            return None
        rows = db.session.execute(
            select(Attachment).where(Attachment.case_id == case.id, Attachment.purpose.in_(purposes),
                                     Attachment.content_type.in_(("image/png", "image/jpeg")))
            .order_by(Attachment.created_at.desc(), Attachment.id.desc())).scalars().all()
        attachment = min(rows, key=lambda row: purposes.index(row.purpose), default=None)
        if attachment is None:
            return None
        case = lock_case(case.id)
        append_case_event(case, action="attachment.viewed", actor=actor,
                          context={"attachment_id": attachment.id, "sha256": attachment.sha256,
                                   "printed_on": document})
    try:
        content = _open((storage_dir() / attachment.storage_name).read_bytes(), attachment.storage_name)
    except (OSError, FieldKeyError) as exc:
        current_app.logger.warning("signature %s of case %s not printed: %s", attachment.id, case_id, exc)
        return None
    return attachment, content


def attachments_of(user, case: Case) -> list[Attachment]:
    """The attachments of a case `user` may open, oldest first."""
    access.require_view(user, case)
    return list(db.session.execute(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.created_at, Attachment.id)
    ).scalars())


def remove_for_cases(case_ids: list[int]) -> list[str]:
    """Retention: the attachments of these cases go (rows now, in the caller's transaction;
    the files with `unlink`, once that transaction has committed). Their hashes stay in the
    audit trail."""
    rows = db.session.execute(select(Attachment).where(Attachment.case_id.in_(case_ids))).scalars().all()
    names = [row.storage_name for row in rows]
    for row in rows:
        db.session.delete(row)
    return names


def unlink(names: list[str]) -> None:
    for name in names:
        (storage_dir() / name).unlink(missing_ok=True)
