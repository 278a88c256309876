"""The team page's figures for each facilitator of a supervisor's own team: open cases
now (`in_progress`), cases overdue against the facilitator (the rule of
`services.deadlines.overdue_conditions`, which the caller hands in: the read side uses no
service of the write side) and cases resolved since a day (`resolved`), as subqueries
keyed by facilitator that the team's own statement joins
(`services.supervision.team_overview`): one statement for the whole page's table, built
once per process.

The same numbers as `tally(..., viewer, by="facilitator")` and
`deadlines.overdue_counts_by_facilitator(viewer)` give for the team's rows: a supervisor
sees every case of a facilitator of their own team (`access.visible_cases`), so counting
that facilitator's cases counts what the viewer's scope holds of them, without first
listing every case the viewer may see (tests/web/test_supervision.py compares them).

Bound parameters: `supervisor_id` (whose team), `now` (the instant deadlines are read
at) and `period_start` (the instant, midnight UTC of the first day, resolutions count
from: `Filters.start_at`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Subquery, and_, bindparam, case, distinct, func, select

from ...models import Case, CaseStageHistory, User
from .stages import open_stages, outcome_stages

H = CaseStageHistory


def team_member_figures(overdue_conditions: Callable[[Any, tuple[str, ...]], list],
                        overdue_states: tuple[str, ...]) -> tuple[Subquery, ...]:
    """(facilitator_id, open, overdue) and (facilitator_id, resolved) of each facilitator of
    the bound supervisor's team with any: subqueries made once per set of stages.
    `overdue_conditions(now, overdue_states)`: the conditions on Case of a case overdue
    against its facilitator at `now`."""
    return _figures(tuple(open_stages()), overdue_conditions, overdue_states, tuple(outcome_stages("resolved")))


@functools.cache
def _figures(open_states: tuple[str, ...], overdue_conditions: Callable[[Any, tuple[str, ...]], list],
             overdue_states: tuple[str, ...], resolved_states: tuple[str, ...]) -> tuple[Subquery, ...]:
    team = select(User.id).where(User.supervisor_id == bindparam("supervisor_id"))
    now = bindparam("now", type_=Case.stage_due_at.type)
    # One pass over the team's open cases (their facilitator and state index): open now, and
    # the part of them overdue.
    present = (
        select(Case.facilitator_id.label("facilitator_id"),
               func.count(case((Case.state.in_(open_states), 1))).label("open"),
               func.count(case((and_(*overdue_conditions(now, overdue_states)), 1))).label("overdue"))
        .where(Case.facilitator_id.in_(team), Case.state.in_(sorted({*open_states, *overdue_states})))
        .group_by(Case.facilitator_id)
        .subquery("team_present"))
    resolved = (
        select(Case.facilitator_id.label("facilitator_id"), func.count(distinct(H.case_id)).label("resolved"))
        .join(Case, Case.id == H.case_id)
        .where(Case.facilitator_id.in_(team), H.stage.in_(resolved_states),
               H.entered_at >= bindparam("period_start", type_=H.entered_at.type))
        .group_by(Case.facilitator_id)
        .subquery("team_resolved"))
    return present, resolved
