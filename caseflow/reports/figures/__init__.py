"""Every monitoring figure, defined once.

A counted figure is a *population* of cases: a function that returns a SELECT of
``case_id`` and ``key`` (the stage, the closure reason… or NULL). The same SELECT gives
the number on a dashboard (`tally`), its breakdown by province / category / facilitator,
and the list of cases behind the number (`drill`), so a figure and its list can never
disagree. Durations and rates are built on the same populations.

Times: a period is [start, end] in calendar days, cut at midnight UTC. "As of" a moment
means the state the case was in at that moment, read from `case_stage_history`; at the
present moment it is the case's state on the cases table.

Durations are counted in one-hour histograms (count and sum of seconds per bin);
percentiles are interpolated over them (like percentile_cont) reading each value as its
bin's mean: exact when a bin holds equal values, within an hour otherwise.

Programme-wide, provincial and category figures add up the sealed months of their period
(`caseflow.reports.sealing`, reached through `sealed`) and compute only the rest from the
raw tables; both give the same numbers (tests/reports/test_rollup.py).

By subject: `scope` (filters, whose cases), `stages` (the workflow's vocabulary),
`populations` (the counted figures), `counts` (totals, breakdowns and the cases behind
them), `rates`, `durations`, `workload` (caseload), `monthly` (tables per month),
`summary` (a dashboard's headline and comparisons), `team` (the team page's figures per
facilitator), `aftercare` (cases followed after their resolution: counted populations,
raw only), `referrals` (referrals counted per kind
of service, raw only); `sql` (expressions for both databases), `memo` (once per
transaction) and `sealed` (what figures ask of sealed months).
"""

from __future__ import annotations

from .aftercare import ENDED_KEYS as AFTERCARE_ENDED_KEYS
from .counts import BY_INSTANT, drill, drill_page, drill_pages, drill_total, tally, total
from .durations import (
    days_to_resolution,
    duration_distribution,
    histogram,
    merge_histograms,
    percentiles_of,
    resolution_values,
    sign_off_turnaround,
    sign_off_values,
    stage_durations,
    stay_values,
)
from .monthly import monthly_trend, months, open_during, steps_per_case_per_month
from .populations import (
    BREAKDOWNS,
    POPULATIONS,
    WITHIN_DAYS,
    resolution_within,
    resolved_within_rows,
)
from .rates import resolution_rate, resolved_within
from .referrals import (
    ANSWER_WITHIN_DAYS,
    REFERRAL_POPULATIONS,
    referral_drill,
    referral_summary,
    referral_tally,
)
from .scope import Filters
from .sql import month_of
from .stages import final_stages, open_stages, outcome_stages
from .summary import aftercare_summary, comparison, comparisons_for, headline
from .team import team_member_figures
from .workload import caseload, caseload_summary

__all__ = [
    "AFTERCARE_ENDED_KEYS",
    "ANSWER_WITHIN_DAYS",
    "BREAKDOWNS",
    "REFERRAL_POPULATIONS",
    "aftercare_summary",
    "referral_drill",
    "referral_summary",
    "referral_tally",
    "BY_INSTANT",
    "POPULATIONS",
    "WITHIN_DAYS",
    "Filters",
    "team_member_figures",
    "caseload",
    "caseload_summary",
    "comparison",
    "comparisons_for",
    "days_to_resolution",
    "drill",
    "drill_page",
    "drill_pages",
    "drill_total",
    "duration_distribution",
    "final_stages",
    "headline",
    "histogram",
    "merge_histograms",
    "month_of",
    "monthly_trend",
    "months",
    "open_during",
    "open_stages",
    "outcome_stages",
    "percentiles_of",
    "resolution_rate",
    "resolution_values",
    "resolution_within",
    "resolved_within",
    "resolved_within_rows",
    "sign_off_turnaround",
    "sign_off_values",
    "stage_durations",
    "stay_values",
    "steps_per_case_per_month",
    "tally",
    "total",
]
