"""In-app notifications (the Notification model): written inside the transaction of the
use case that causes them, read and marked read by their one reader.

Each kind's text is rendered in the reader's language by a function registered for that
kind (`text_for`); the sign-off policy's kinds are rendered in services/sign_off_policy.py,
which falls back to this registry.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.sql.selectable import ScalarSelect

from ..database import utcnow
from ..extensions import db
from ..models import Notification, User

_TEXTS: dict[str, Callable[[dict], str]] = {}


def notify(user_id: int, kind: str, case_id: int | None, data: dict) -> Notification:
    """Add a notification for `user_id` (the caller's transaction writes it)."""
    notification = Notification(user_id=user_id, kind=kind, case_id=case_id, data=data, created_at=utcnow())
    db.session.add(notification)
    return notification


def text_for(kind: str) -> Callable[[Callable[[dict], str]], Callable[[dict], str]]:
    """Register the function that renders the text of notifications of `kind`."""
    def register(render: Callable[[dict], str]) -> Callable[[dict], str]:
        _TEXTS[kind] = render
        return render
    return register


def render(notification: Notification) -> str | None:
    render_text = _TEXTS.get(notification.kind)
    return render_text(notification.data or {}) if render_text else None


def _unread(user_id) -> Select:
    return select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))


# Built once: every page's menu asks (building and keying a statement costs as much as sending it).
_UNREAD = _unread(bindparam("user_id"))


def unread_statement(user: User) -> ScalarSelect:
    """`unread_count` as a scalar subquery, for a page that asks more in one statement."""
    return _unread(user.id).scalar_subquery()


def unread_of_bound_user() -> ScalarSelect:
    """`unread_count` of the user bound as `user_id`, as a scalar subquery: for a page's
    statement built once that reads the menu's count with its own rows."""
    return _UNREAD.scalar_subquery()


def unread_count(user: User) -> int:
    """How many notifications `user` has not read (the menu shows the number)."""
    return db.session.execute(_UNREAD, {"user_id": user.id}).scalar_one()
