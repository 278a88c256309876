"""Registering clients (penerima manfaat)."""

from __future__ import annotations

from sqlalchemy import select

from ..database import utcnow, write_transaction
from ..errors import NotAllowed
from ..extensions import db
from ..i18n import _l
from ..models import Client, Province, Role
from ..schemas import ClientSchema, load
from ..security.fields import marker as sensitive_marker
from . import duplicates
from .audit import append_event, user_chain
from .context import Actor


def province_codes() -> set[str]:
    return set(db.session.execute(select(Province.code)).scalars())


def client_dict(client: Client) -> dict:
    return {
        "id": client.id, "full_name": client.full_name, "nik": client.nik,
        "birth_date": client.birth_date, "sex": client.sex, "address": client.address,
        "phone": client.phone, "province_code": client.province_code,
        "guardian_name": client.guardian_name, "guardian_relationship": client.guardian_relationship,
        "consent_given_by": client.consent_given_by,
        # Encrypted at rest, so never copied into the audit trail: only whether it is filled in.
        "health_notes": sensitive_marker(client.health_notes),
    }


def register_client(actor: Actor, data: dict) -> Client:
    """A facilitator or supervisor registers a client, with consent recorded."""
    if actor.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        raise NotAllowed(_l("Only facilitators and supervisors register clients."))
    values = load(ClientSchema(province_codes()), data)
    values.pop("consent_confirmed")
    with write_transaction():
        existing = db.session.execute(
            select(Client).where(Client.nik == values["nik"])
        ).scalar_one_or_none() if values.get("nik") else None
        if existing is not None:
            duplicates.refuse_registration(actor, existing)
        now = utcnow()
        client = Client(**values, consent_recorded_by_id=actor.user_id, consent_recorded_at=now,
                        created_by_id=actor.user_id, created_at=now)
        db.session.add(client)
        db.session.flush()
        # Client registration belongs to the registering user's chain until a case exists.
        append_event(chain=user_chain(actor.user_id), action="client.registered", actor=actor,
                     after=client_dict(client) | {"consent_recorded_at": now})
        return client
