"""A client registered on a tablet without a signal, applied when it reaches the server.

The registration goes through the same service as one made online (every check, the
duplicate check by NIK included). What the tablet could not do offline is look for the
person among the clients already registered: a possible duplicate found now is never
registered silently. The facilitator decides on the tablet: continue with the existing
client (the provisional one is merged into it) or keep the new one, saying why."""

from __future__ import annotations

from datetime import date

from ..database import write_transaction
from ..errors import ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Client
from ..schemas import is_row_id
from . import access
from .audit import append_event, user_chain
from .cases import record_refusal
from .clients import possible_matches, register_client
from .context import Actor

REASON_MAX = 500


def _match(client: Client, nik: str | None) -> dict:
    return {"id": client.id, "full_name": client.full_name, "masked_nik": client.masked_nik,
            "birth_date": client.birth_date.isoformat() if client.birth_date else None,
            "same_nik": bool(nik and client.nik == nik)}


def register_from_tablet(actor: Actor, data: dict) -> Client:
    """Register a client queued offline, or continue with an existing one the facilitator
    chose (`existing_client_id`), or register despite a possible duplicate with a reason
    (`distinct_reason`). A possible duplicate without a choice is refused with the
    candidates the facilitator may see."""
    values = dict(data)
    existing_id = values.pop("existing_client_id", None)
    reason = values.pop("distinct_reason", None)
    if existing_id is not None:
        return _continue_with(actor, existing_id)
    if reason is not None and (not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_MAX):
        message = _l("Say in 1 to %(n)s characters why this is another person.", n=REASON_MAX)
        raise ValidationError(message, fields={"distinct_reason": [message]})
    nik = values.get("nik") if isinstance(values.get("nik"), str) else None
    try:
        birth = date.fromisoformat(str(values.get("birth_date") or ""))
    except ValueError:
        birth = None
    matches = possible_matches(actor.user, full_name=str(values.get("full_name") or ""),
                               birth_date=birth, nik=nik) if actor.user else []
    same_nik = [m for m in matches if nik and m.nik == nik]
    if same_nik or (matches and reason is None):
        message = (_l("This NIK is already registered: continue with that client.") if same_nik else
                   _l("A client with the same name and birth date is already registered. Continue "
                      "with that client, or say why this is another person."))
        raise ValidationError(message, fields={"full_name" if not same_nik else "nik": [message]},
                              current={"duplicates": [_match(m, nik) for m in (same_nik or matches)]})
    with write_transaction():  # the registration and the reason, or neither
        client = register_client(actor, values)
        if reason is not None:
            append_event(chain=user_chain(actor.user_id), action="client.registered_despite_match",
                         actor=actor, context={"client_id": client.id, "reason": reason.strip(),
                                               "matches": [m.id for m in matches]})
    return client


def _continue_with(actor: Actor, client_id) -> Client:
    """The provisional client is the existing one: nothing new is registered."""
    client = db.session.get(Client, client_id) if is_row_id(client_id) else None
    if client is None or actor.user is None or not access.can_see_client(actor.user, client):
        record_refusal(actor, "tablet registration: existing client")
        raise ValidationError(_l("Unknown client."), fields={"existing_client_id": [_l("Unknown client.")]})
    with write_transaction():
        append_event(chain=user_chain(actor.user_id), action="client.merged_from_tablet", actor=actor,
                     context={"client_id": client.id})
    return client
