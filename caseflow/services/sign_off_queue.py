"""What a supervisor's pages read of the requests waiting for their decision, as values in
one statement: the sign-off queue's rows, and what the team page counts. Which requests
a supervisor may decide is `cases.decidable_by`, the rule `pending_sign_offs_for` reads.

Loading the requests as objects with their cases, clients, people, plans and ratings
cost the queue more Python than everything else on the page; a row of values costs a
fraction of it. A case's zone comes from the per-process table of provinces
(`province_zone`), not from a join: one more table in the statement cost PostgreSQL more
in planning it (1.2 ms at each request) than the whole statement's execution.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Case, Client, Role, SignOff, TerminationRequest, User
from ..models.reference import province_zone
from . import deadlines, evaluation
from .cases import decidable_by

_Facilitator, _Supervisor = aliased(User), aliased(User)


class QueueEntry(NamedTuple):
    """One request of the queue, as the page shows it."""

    id: int
    case_id: int
    requested_trigger: str
    requested_at: datetime
    case_number: str
    client_name: str
    facilitator_name: str
    outcome: str | None  # the termination request's proposed outcome, if the case has one
    flagged: bool  # asked to close as resolved with goals not all achieved (evaluation.resolution_flags)
    facts: deadlines.CaseFacts  # what the case's next action reads


@functools.cache
def _queue_columns() -> Select:
    """The queue's columns and joins, built once per process (building them costs more
    Python than reading them); the viewer's conditions are added per request."""
    return (
        select(SignOff.id, SignOff.case_id, SignOff.requested_trigger, SignOff.requested_at, Case.number,
               Client.full_name, _Facilitator.full_name, TerminationRequest.outcome,
               evaluation.resolution_flagged(),
               Case.workflow, Case.state, Case.province_code, Case.facilitator_id, _Supervisor.full_name,
               Case.stage_due_at, deadlines.pending_request(SignOff.requested_trigger),
               deadlines.pending_request(SignOff.requested_at))
        .select_from(SignOff)
        .join(Case, Case.id == SignOff.case_id)
        .join(Client, Client.id == Case.client_id)
        .join(_Facilitator, _Facilitator.id == Case.facilitator_id)
        .outerjoin(_Supervisor, _Supervisor.id == _Facilitator.supervisor_id)
        .outerjoin(TerminationRequest, TerminationRequest.case_id == Case.id)
    )


def sign_off_queue(user: User, *extra: Any) -> tuple[list[QueueEntry], tuple | None]:
    """The requests `user` may decide, oldest first, each with what the queue shows of it;
    and the values of `extra` (scalar subqueries that do not depend on the row, such as the
    menu's unread count) read with them: None when there is no request to read them with."""
    if user.role != Role.SUPERVISOR:
        return [], None
    rows = db.session.execute(
        _queue_columns().add_columns(*extra).where(*decidable_by(user))
        .order_by(SignOff.requested_at, SignOff.id)).all()
    entries = [QueueEntry(*row[:9], deadlines.CaseFacts(row[9], row[10], province_zone(row[11]), row[12], row[6],
                                                        *row[13:17])) for row in rows]
    return entries, (tuple(rows[0][17:]) if rows else None)


@functools.cache
def _deadline_columns() -> Select:
    """What a request's decision deadline reads, with the joins of the queue's conditions:
    built once per process."""
    return (select(Case.workflow, SignOff.requested_trigger, SignOff.requested_at, Case.province_code)
            .select_from(SignOff)
            .join(Case, Case.id == SignOff.case_id))


def waiting_decisions(user: User) -> list[deadlines.RequestFacts]:
    """What each request `user` may decide says of its decision's deadline (the team page
    counts them and those overdue)."""
    if user.role != Role.SUPERVISOR:
        return []
    return [deadlines.RequestFacts(workflow, trigger, requested_at, province_zone(code))
            for workflow, trigger, requested_at, code in db.session.execute(
                _deadline_columns().where(*decidable_by(user)))]
