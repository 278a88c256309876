"""Loading a case for change: every use case that changes a case starts here."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm.interfaces import ORMOption

from ..errors import NotFound
from ..extensions import db
from ..i18n import _l
from ..models import Case, Client, User
from . import access

Row = TypeVar("Row")

# Every change of a case starts here: the statement is built once (building it cost as
# much as running it).
_LOCK_CASE = (select(Case).where(Case.id == bindparam("case_id")).with_for_update(of=Case)
              .execution_options(populate_existing=True))

# Every step starts here: built once too.
_LOCK_CASE_OF_CLIENT = (select(Case, Client.birth_date).join(Client, Client.id == Case.client_id)
                        .where(Case.id == bindparam("case_id")).with_for_update(of=Case)
                        .execution_options(populate_existing=True))


def lock_case(case_id: int, *options: ORMOption) -> Case:
    """Load a case for change (with the relationships `options` load). PostgreSQL locks the
    row; on SQLite the write transaction (BEGIN IMMEDIATE) already holds the database's
    write lock."""
    statement = _LOCK_CASE.options(*options) if options else _LOCK_CASE
    case = db.session.execute(statement, {"case_id": case_id}).scalar_one_or_none()
    if case is None:
        raise NotFound(_l("No such case."))
    return case


def lock_case_of_client(case_id: int) -> tuple[Case, date | None]:
    """`lock_case`, with the client's birth date (what logging a step checks) read in the
    same statement instead of loading the client."""
    row = db.session.execute(_LOCK_CASE_OF_CLIENT, {"case_id": case_id}).one_or_none()
    if row is None:
        raise NotFound(_l("No such case."))
    return row[0], row[1]


def lock_case_of(model: type[Row], row_id: int, user: User | None, not_found: Any) -> tuple[Row, Case]:
    """Load a row that belongs to a case (a sign-off, a referral) for change: its case is
    locked, then the row read again, so what a transaction that held the lock changed is
    seen. A row whose case `user` may not open looks like none (`not_found`)."""
    found = db.session.get(model, row_id)
    if found is None:
        raise NotFound(not_found)
    case = lock_case(found.case_id)
    row = db.session.get(model, row_id, populate_existing=True)
    if user is None or not access.can_view_case(user, case):
        raise NotFound(not_found)
    return row, case
