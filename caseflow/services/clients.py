"""Registering clients (penerima manfaat)."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import Select, and_, false, func, or_, select, union

from ..database import utcnow, write_transaction
from ..errors import NotAllowed, NotFound
from ..extensions import db
from ..i18n import _l
from ..models import Case, Client, Province, Role, User
from ..schemas import ClientSchema, load
from ..security.fields import marker as sensitive_marker
from . import access, duplicates
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


# --- finding clients again ------------------------------------------------------------------


NIK_DIGITS = 16


def is_full_nik(text: str) -> bool:
    return len(text) == NIK_DIGITS and text.isascii() and text.isdigit()


def client_list(user: User, *, search: str = "", without_case: bool = False) -> Select:
    """The clients `user` may see (access.visible_clients), newest registration first:
    a facilitator's own and their team's (registered by them or a colleague, or with one
    of their cases), a supervisor's and their team's. `search` is part of a name, or a full 16-digit NIK: a NIK outside
    the user's reach finds nothing, exactly as a NIK nobody has (no oracle; registering
    it is what duplicates.py answers). `without_case`: those with no case at all yet,
    the clients a dropped signal left between the two registration screens.

    Other roles get an empty list: an auditor finds clients through the cases of their
    scope, a programme manager and an administrator see none."""
    registrars = access.client_registrars(user)
    if registrars is None or not user.is_active:
        return select(Client).where(false())
    # The rule is access.visible_clients; this union of two index lookups (registered by
    # these people, or with a case they may open) only finds the candidates fast.
    candidates = union(select(Client.id).where(Client.created_by_id.in_(registrars)),
                       access.visible_cases(user, select(Case.client_id)))
    statement = access.visible_clients(user, select(Client).where(Client.id.in_(candidates)))
    search = " ".join(search.split())[:120]
    if is_full_nik(search):
        statement = statement.where(Client.nik == search)
    elif search:
        statement = statement.where(func.lower(Client.full_name).like(f"%{_escape_like(search.lower())}%",
                                                                        escape="\\"))
    if without_case:
        statement = statement.where(~select(Case.id).where(Case.client_id == Client.id).exists())
    return statement.order_by(Client.created_at.desc(), Client.id.desc())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def possible_matches(user: User, *, full_name: str | None, birth_date: date | None,
                     nik: str | None) -> list[Client]:
    """Clients within `user`'s reach that may be the person being registered: the same
    NIK, or the same name and birth date (a client registered without a NIK, or once
    before the signal dropped). Nobody outside their reach is looked at."""
    conditions = []
    if nik and is_full_nik(nik):
        conditions.append(Client.nik == nik)
    name = " ".join((full_name or "").split()).lower()
    if name and birth_date is not None:
        conditions.append(and_(func.lower(Client.full_name) == name, Client.birth_date == birth_date))
    if not conditions or access.client_registrars(user) is None:
        return []
    statement = access.visible_clients(user, select(Client).where(or_(*conditions)))
    return list(db.session.execute(statement.order_by(Client.id).limit(5)).scalars())


def cases_of(user: User, client: Client) -> list[Case]:
    """The client's cases `user` may open, the newest first: a returning client's cases
    are linked through the client."""
    return list(db.session.execute(
        access.visible_cases(user, select(Case).where(Case.client_id == client.id))
        .order_by(Case.opened_at.desc(), Case.id.desc())
    ).scalars())


def open_case_of(client: Client) -> Case | None:
    """The client's open case, if any (one at a time: services.cases.open_case)."""
    return db.session.execute(
        select(Case).where(Case.client_id == client.id, Case.closed_at.is_(None)).limit(1)
    ).scalar_one_or_none()


def get_client(user: User, client_id: int) -> Client:
    """A client `user` may see; any other looks like none."""
    client = db.session.get(Client, client_id)
    if client is None or not access.can_see_client(user, client):
        raise NotFound(_l("No such client."))
    return client


class OpenCase(NamedTuple):
    id: int
    number: str


def cases_by_client(user: User, client_ids: list[int]) -> dict[int, dict]:
    """Per client of a list: how many of their cases `user` may open, their open case
    (`OpenCase`) if `user` may open it, or only that one is open elsewhere (what refusing a
    second open case says too), and whether they have any case at all (a client left
    without one). One statement: each case of these clients, and whether `user` may open it."""
    result: dict[int, dict] = {cid: {"count": 0, "any": False, "open": None, "open_elsewhere": False}
                               for cid in client_ids}
    if not client_ids:
        return result
    visible = access.visible_cases(user, select(Case.id).where(Case.client_id.in_(client_ids))).subquery()
    for case_id, client_id, number, closed_at, seen in db.session.execute(
        select(Case.id, Case.client_id, Case.number, Case.closed_at, visible.c.id)
        .outerjoin(visible, visible.c.id == Case.id).where(Case.client_id.in_(client_ids))
    ):
        entry = result[client_id]
        entry["any"] = True
        entry["count"] += seen is not None
        if closed_at is None:
            if seen is not None:
                entry["open"] = OpenCase(case_id, number)
            else:
                entry["open_elsewhere"] = True
    return result


def record_client_view(actor: Actor, client_id: int) -> None:
    """A client's page shows their personal data: reading it is recorded on the reader's
    chain (a case's page records its reads on the case's own chain)."""
    with write_transaction():
        append_event(chain=user_chain(actor.user_id), action="client.viewed", actor=actor,
                     context={"client_id": client_id})


def registration_matches(user: User, data: dict) -> list[Client]:
    """`possible_matches` for a registration form's raw values (a date not yet checked)."""
    try:
        birth = date.fromisoformat(str(data.get("birth_date") or "").strip())
    except ValueError:
        birth = None
    nik = str(data.get("nik") or "").strip() or None
    return possible_matches(user, full_name=str(data.get("full_name") or ""), birth_date=birth, nik=nik)
