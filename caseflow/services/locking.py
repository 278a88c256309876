"""Loading a case for change: every use case that changes a case starts here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.interfaces import ORMOption

from ..database import session_connection
from ..errors import NotFound
from ..extensions import db
from ..i18n import _l
from ..models import Case, Client, User
from ..prepared import Prepared
from . import access
from .idempotency import LockAlong

Row = TypeVar("Row")

# Every change of a case starts here: the statement is built once (building it cost as
# much as running it). The ORM's, for a case already in the session (read again over it,
# as populate_existing does) or loaded with relationships (`options`).
_LOCK_CASE = (select(Case).where(Case.id == bindparam("case_id")).with_for_update(of=Case)
              .execution_options(populate_existing=True))

# Every step starts here: built once too.
_LOCK_CASE_OF_CLIENT = (select(Case, Client.birth_date).join(Client, Client.id == Case.client_id)
                        .where(Case.id == bindparam("case_id")).with_for_update(of=Case)
                        .execution_options(populate_existing=True))

# The same, as rows: a case not in the session yet is made from its row (_as_case).
_cases, _clients = Case.__table__, Client.__table__
_CASE_KEYS = tuple(Case.__mapper__.get_property_by_column(column).key for column in _cases.c)
_LOCK_CASE_ROW = Prepared(select(*_cases.c).where(_cases.c.id == bindparam("case_id")).with_for_update(of=_cases))
_LOCK_CASE_ROW_OF_CLIENT = Prepared(select(*_cases.c, _clients.c.birth_date)
                                    .join(_clients, _clients.c.id == _cases.c.client_id)
                                    .where(_cases.c.id == bindparam("case_id")).with_for_update(of=_cases))
# A tablet's outbox locks the cases its steps name together, in the order of their ids.
_LOCK_CASE_ROWS_OF_CLIENTS = (select(*_cases.c, _clients.c.birth_date)
                              .join(_clients, _clients.c.id == _cases.c.client_id)
                              .where(_cases.c.id.in_(bindparam("case_ids", expanding=True)))
                              .order_by(_cases.c.id).with_for_update(of=_cases))
_new_case = Case.__mapper__.class_manager.new_instance
_CASE_IDENTITY = Case.__mapper__._identity_class


def _identity(case_id: int) -> tuple:
    return _CASE_IDENTITY, (case_id,), None


def _as_case(session, row) -> Case:
    """The persistent Case of a locked row, as the ORM's loading would make it (in the
    identity map under its key, clean, every column loaded, its relationships loaded when
    first used) without that loading's machinery: 60–90 µs less for the most frequent
    writes. Put in the identity map as a detached object is by `session.add`, without its
    save-update cascade, which walks every relationship of the case to find none loaded
    (30 µs), and its relationships not marked expired: as loaded, they are simply not."""
    case = _new_case()
    case.__dict__.update(zip(_CASE_KEYS, row, strict=False))
    state = instance_state(case)
    state.key = _identity(case.id)
    session._update_impl(state)
    return case


def _read_as_row(session, case_id: int) -> bool:
    """The case is read as a row: it is not in the session yet (one there is read again
    over it, by the ORM). What the session holds unwritten is flushed first, as the ORM's
    query would (autoflush), so the lock comes after the writes before it."""
    if _identity(case_id) in session.identity_map:
        return False
    session._autoflush()
    return True


def lock_case(case_id: int, *options: ORMOption) -> Case:
    """Load a case for change (with the relationships `options` load). PostgreSQL locks the
    row; on SQLite the write transaction (BEGIN IMMEDIATE) already holds the database's
    write lock."""
    session = db.session()
    if not options and _read_as_row(session, case_id):
        row = _LOCK_CASE_ROW.one_or_none(session_connection(), {"case_id": case_id})
        if row is None:
            raise NotFound(_l("No such case."))
        return _as_case(session, row)
    statement = _LOCK_CASE.options(*options) if options else _LOCK_CASE
    case = session.execute(statement, {"case_id": case_id}).scalar_one_or_none()
    if case is None:
        raise NotFound(_l("No such case."))
    return case


def lock_case_of_client(case_id: int) -> tuple[Case, date | None]:
    """`lock_case`, with the client's birth date (what logging a step checks) read in the
    same statement instead of loading the client."""
    session = db.session()
    if _read_as_row(session, case_id):
        row = _LOCK_CASE_ROW_OF_CLIENT.one_or_none(session_connection(), {"case_id": case_id})
        if row is None:
            raise NotFound(_l("No such case."))
        return _as_case(session, row), row[-1]
    row = session.execute(_LOCK_CASE_OF_CLIENT, {"case_id": case_id}).one_or_none()
    if row is None:
        raise NotFound(_l("No such case."))
    return row[0], row[1]


def case_lock(case_id: int, locked: dict[int, Case]) -> LockAlong | None:
    """What `lock_case(case_id)` locks, as a lock to be taken with an Idempotency-Key's
    reservation (`idempotency.LockAlong`): the case found is put in `locked`, for the work
    to take instead of locking it again. None for a case in the session already (read
    again over it, by the ORM)."""
    return _lock_along(_LOCK_CASE_ROW, case_id, lambda case, _row: locked.__setitem__(case_id, case))


def case_of_client_lock(case_id: int, locked: dict[int, tuple[Case, date | None]]) -> LockAlong | None:
    """`case_lock` for `lock_case_of_client`: the case is put in `locked` with the
    client's birth date, as `lock_case_of_client` gives them."""
    return _lock_along(_LOCK_CASE_ROW_OF_CLIENT, case_id,
                       lambda case, row: locked.__setitem__(case_id, (case, row[-1])))


def _lock_along(statement: Prepared, case_id: int, put: Callable[[Case, tuple], None]) -> LockAlong | None:
    session = db.session()
    if not _read_as_row(session, case_id):
        return None

    def take(row: tuple | None) -> None:
        if row is not None:
            put(_as_case(session, row), row)

    return LockAlong(statement.statement, {"case_id": case_id}, take)


def lock_cases_of_clients(case_ids: Iterable[int]) -> dict[int, tuple[Case, date | None]]:
    """`lock_case_of_client` for several cases in one statement, those not in the session
    yet (one there is left to `lock_case_of_client`, which reads it again over it); a case
    not found is not in the answer."""
    session = db.session()
    unread = sorted({case_id for case_id in case_ids if _identity(case_id) not in session.identity_map})
    if not unread:
        return {}
    session._autoflush()
    rows = session_connection().execute(_LOCK_CASE_ROWS_OF_CLIENTS, {"case_ids": unread}).all()
    return {case.id: (case, row[-1]) for case, row in ((_as_case(session, row), row) for row in rows)}


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
