"""Caseload: open cases and clients per facilitator against the ideal of one facilitator
to 100 clients."""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, false, func, select, true

from ...extensions import db
from ...models import Case, CaseStageHistory, Role, User
from .populations import covering, is_now
from .scope import Filters, scoped_cases, with_cases
from .stages import open_stages

H = CaseStageHistory
IDEAL_CLIENTS_PER_FACILITATOR = 100


def caseload(filters: Filters, user: User | None = None) -> list[dict[str, Any]]:
    """Per active facilitator: open cases and distinct clients at the moment, against the
    ideal of 1 facilitator to 100 clients. Facilitators without cases are listed too."""
    moment = filters.moment
    if is_now(moment):
        # The current stay of a case is always its current state: read the cases alone.
        # Open now is closed_at empty (the engine sets it on entering a final stage and
        # clears it on leaving one), which the partial index of open cases holds.
        open_now = select(Case.id.label("case_id"), Case.facilitator_id.label("facilitator_id"),
                          Case.client_id.label("client_id")).where(
            Case.closed_at.is_(None), *scoped_cases(filters, user)).subquery()
    else:
        open_now = with_cases(
            select(H.case_id.label("case_id"), Case.facilitator_id.label("facilitator_id"),
                   Case.client_id.label("client_id")).where(*covering(moment), H.stage.in_(open_stages())),
            H.case_id, filters, user, needed=True,
        ).subquery()
    people = select(User.id, User.full_name, User.province_code, User.supervisor_id).where(
        User.role == Role.FACILITATOR, User.active.is_(true())
    )
    if filters.province:
        people = people.where(User.province_code == filters.province)
    if filters.facilitator_id:
        people = people.where(User.id == filters.facilitator_id)
    if filters.supervisor_id:
        people = people.where(User.supervisor_id == filters.supervisor_id)
    if user is not None and user.role == Role.FACILITATOR:
        people = people.where(User.id == user.id)
    elif user is not None and user.role == Role.SUPERVISOR:
        people = people.where(User.supervisor_id == user.id)
    elif user is not None and user.role == Role.AUDITOR and user.auditor_scope_province_code:
        people = people.where(User.province_code == user.auditor_scope_province_code)
    elif user is not None and user.role == Role.ADMIN:
        people = people.where(false())
    people = people.subquery()
    # Counted per facilitator first (in the order of the facilitator index), then joined to
    # the accounts: thousands of people, not hundreds of thousands of cases, are joined.
    # At the present moment each row is one case (count(*): the facilitator index alone).
    cases_counted = func.count() if is_now(moment) else func.count(distinct(open_now.c.case_id))
    loads = select(open_now.c.facilitator_id, cases_counted.label("cases"),
                   func.count(distinct(open_now.c.client_id)).label("clients")
                   ).group_by(open_now.c.facilitator_id).subquery()
    rows = db.session.execute(
        select(people.c.id, people.c.full_name, people.c.province_code, people.c.supervisor_id,
               func.coalesce(loads.c.cases, 0), func.coalesce(loads.c.clients, 0))
        .select_from(people)
        .outerjoin(loads, loads.c.facilitator_id == people.c.id)
        .order_by(people.c.full_name)
    ).all()
    return [
        {"facilitator_id": fid, "name": name, "province": province, "supervisor_id": sup,
         "open_cases": cases_, "clients": clients,
         "load": round(clients / IDEAL_CLIENTS_PER_FACILITATOR, 2),
         "over_ratio": clients > IDEAL_CLIENTS_PER_FACILITATOR}
        for fid, name, province, sup, cases_, clients in rows
    ]


def caseload_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The same caseload without names: what a programme manager may see."""
    clients = sum(r["clients"] for r in rows)
    return {
        "facilitators": len(rows),
        "clients": clients,
        "ideal_facilitators": -(-clients // IDEAL_CLIENTS_PER_FACILITATOR),
        "average_clients": round(clients / len(rows), 1) if rows else None,
        "over_ratio": sum(1 for r in rows if r["over_ratio"]),
    }
