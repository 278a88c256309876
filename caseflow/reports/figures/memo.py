"""Once per transaction: every figure of a dashboard asks the same questions (its scope's
cases, the sealed months, a correction), so each is answered once and forgotten at the
next commit or rollback."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from ...database import forget_when_a_read_ends
from ...extensions import db

MEMO = "caseflow.figures.memo"


def per_transaction(key: Any, compute):
    """`compute()` once per transaction: a dashboard asks the same correction for a
    figure's total and each of its breakdowns. Forgotten at commit and rollback."""
    memo = db.session.info.setdefault(MEMO, {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _forget(session, *_args) -> None:
    session.info.pop(MEMO, None)


def listen() -> None:
    """Forget the memo at every commit and rollback of any session, and where a write goes
    on in a read's transaction (once per process)."""
    for name in ("after_commit", "after_soft_rollback"):
        if not event.contains(Session, name, _forget):
            event.listen(Session, name, _forget)
    forget_when_a_read_ends(_forget)
