"""Every figure on hand-built data (see tests/support/programme.py for the days of each move)."""

from __future__ import annotations

from sqlalchemy.sql.util import find_tables

from caseflow.extensions import db
from caseflow.models import Case
from caseflow.reports import figures as fg
from caseflow.reports.figures import Filters
from caseflow.reports.figures.populations import reads_cases
from tests.support.programme import day


def half_year(p, **extra) -> Filters:
    return Filters(**p.half_year, **extra)


def case_ids(statement) -> set[int]:
    return {c.id for c in db.session.execute(statement).scalars()}


def test_counts_for_the_half_year(programme):
    f = half_year(programme)
    assert fg.total("recorded", f) == 5
    assert fg.total("resolved", f) == 2
    assert fg.tally("closed_unresolved", f) == {"moved": 1}
    assert fg.total("reopened", f) == 1
    assert fg.tally("in_progress", f) == {"assessment": 2, "recorded": 1}


def test_as_of_a_date_reads_the_stage_each_case_was_in(programme):
    f = Filters(as_of=day(100))
    assert fg.total("recorded", f) == 5
    assert fg.tally("in_progress", f) == {"intervention": 2, "assessment": 1, "recorded": 1}
    # E's intervention (due day 93), C's assessment (due day 64), D's recording (due day 47).
    assert fg.tally("overdue", f) == {"intervention": 1, "assessment": 1, "recorded": 1}
    assert fg.total("resolved", f) == 1
    assert fg.tally("resolved_as_of", f) == {"resolved": 1}


def test_resolution_rate_counts_closed_unresolved_against_it(programme):
    rate = fg.resolution_rate(half_year(programme))
    assert rate == {"resolved": 2, "terminated": 3, "rate": 0.6667}


def test_share_resolved_within_90_and_180_days(programme):
    within = fg.resolved_within(half_year(programme))
    assert within["recorded"] == 5
    assert within[90] == {"resolved": 1, "share": 0.2}
    assert within[180] == {"resolved": 2, "share": 0.4}


def test_days_from_recorded_to_resolved(programme):
    assert fg.days_to_resolution(half_year(programme)) == {"count": 2, "p50": 111.0, "p90": 142.2}


def test_days_in_each_stage_median_and_90th_percentile(programme):
    durations = fg.stage_durations(half_year(programme))
    assert durations == {
        "recorded": {"count": 4, "p50": 7.5, "p90": 17.0},
        "assessment": {"count": 3, "p50": 10.0, "p90": 10.0},
        "planning": {"count": 3, "p50": 10.0, "p90": 10.0},
        "intervention": {"count": 3, "p50": 80.0, "p90": 125.6},
        "evaluation": {"count": 3, "p50": 10.0, "p90": 10.0},
        "termination_review": {"count": 3, "p50": 5.0, "p90": 5.0},
    }
    assert list(durations) == ["recorded", "assessment", "planning", "intervention", "evaluation",
                               "termination_review"]


def test_duration_distribution_buckets(programme):
    buckets = fg.duration_distribution(half_year(programme))
    # ≤7, ≤14, ≤30, ≤60, ≤90, ≤180, more
    assert buckets["recorded"] == [2, 1, 1, 0, 0, 0, 0]  # 1, 5 | 10 | 20 days
    assert buckets["intervention"] == [0, 0, 1, 0, 1, 1, 0]  # 30 | 80 | 137 days


def test_sign_off_turnaround_in_hours(programme):
    turnaround = fg.sign_off_turnaround(half_year(programme))
    assert turnaround["decided"] == {"count": 3, "p50": 120.0, "p90": 120.0}
    assert turnaround["pending"] == 0
    waiting = fg.sign_off_turnaround(Filters(as_of=day(116)))
    assert waiting["pending"] == 1 and waiting["oldest_pending_hours"] == 24.0


def test_caseload_per_facilitator_against_the_ideal_ratio(programme):
    rows = {r["facilitator_id"]: r for r in fg.caseload(half_year(programme))}
    t = programme.team
    assert rows[t.facilitator.id]["open_cases"] == 1
    assert rows[t.facilitator2.id]["clients"] == 1
    assert rows[t.other_facilitator.id]["load"] == 0.01
    assert fg.caseload_summary(list(rows.values())) == {
        "facilitators": 3, "clients": 3, "ideal_facilitators": 1, "average_clients": 1.0, "over_ratio": 0,
    }
    now = {r["facilitator_id"]: r["open_cases"] for r in fg.caseload(Filters())}
    assert now == {t.facilitator.id: 1, t.facilitator2.id: 1, t.other_facilitator.id: 1}
    assert fg.tally("in_progress", Filters()) == {"assessment": 2, "recorded": 1}
    earlier = {r["facilitator_id"]: r["open_cases"] for r in fg.caseload(Filters(as_of=day(100)))}
    assert earlier[t.facilitator.id] == 2  # B and E


def test_steps_per_case_per_month(programme):
    months = fg.steps_per_case_per_month(half_year(programme))
    assert [(m["month"], m["steps"], m["open_cases"]) for m in months] == [
        ("2026-01", 0, 4), ("2026-02", 0, 5), ("2026-03", 1, 5),
        ("2026-04", 1, 4), ("2026-05", 1, 4), ("2026-06", 0, 3),
    ]
    assert months[2]["steps_per_case"] == 0.2


def test_monthly_trend(programme):
    trend = {m["month"]: m for m in fg.monthly_trend(half_year(programme))}
    assert trend["2026-01"]["recorded"] == 4
    assert trend["2026-02"]["recorded"] == 1
    assert trend["2026-03"] == {"month": "2026-03", "recorded": 0, "resolved": 1,
                                "closed_unresolved": 0, "rate": 1.0}
    assert trend["2026-05"]["rate"] == 0.5
    assert trend["2026-04"]["rate"] is None


def test_filters_by_province_category_facilitator_and_team(programme):
    t = programme.team
    f = half_year(programme)
    assert fg.tally("recorded", f, by="province") == {"91": 4, "53": 1}
    assert fg.tally("recorded", f, by="category") == {"P02": 4, "P03": 1}
    assert fg.total("recorded", f.with_(province="53")) == 1
    assert fg.total("recorded", f.with_(category="P03")) == 1
    assert fg.total("recorded", f.with_(facilitator_id=t.facilitator.id)) == 3
    assert fg.total("recorded", f.with_(supervisor_id=t.supervisor.id)) == 4
    assert fg.total("recorded", Filters(as_of=day(20))) == 3


def test_each_role_sees_the_figures_of_its_scope(programme):
    t = programme.team
    f = half_year(programme)
    assert fg.total("recorded", f, t.facilitator) == 3
    assert fg.total("recorded", f, t.supervisor) == 4
    assert fg.total("recorded", f, t.other_supervisor) == 1
    assert fg.total("recorded", f, t.province_auditor) == 1
    assert fg.total("recorded", f, t.auditor) == 5
    assert fg.total("recorded", f, t.manager) == 5
    assert fg.total("recorded", f, t.admin) == 0


def test_drill_down_lists_the_cases_behind_each_figure(programme):
    p = programme
    f = half_year(p)
    assert case_ids(fg.drill("resolved", f)) == {p.a.id, p.e.id}
    assert case_ids(fg.drill("closed_unresolved", f, key="moved")) == {p.b.id}
    assert case_ids(fg.drill("in_progress", f, key="assessment")) == {p.c.id, p.e.id}
    assert case_ids(fg.drill("recorded", f, key="53", by="province")) == {p.d.id}
    assert case_ids(fg.drill("overdue", Filters(as_of=day(100)), key="intervention")) == {p.e.id}
    assert case_ids(fg.drill("resolved", f, p.team.other_supervisor)) == set()


def test_comparison_side_by_side(programme):
    rows = fg.comparison("province", half_year(programme))
    assert rows["91"] == {"recorded": 4, "in_progress": 2, "overdue": 2, "resolved": 2,
                          "closed_unresolved": 1, "rate": 0.6667}
    assert rows["53"]["recorded"] == 1 and rows["53"]["rate"] is None


def test_headline_has_every_figure(programme):
    figures = fg.headline(half_year(programme))
    assert figures["recorded"] == 5
    assert figures["resolution_rate"]["rate"] == 0.6667
    assert figures["days_to_resolution"]["p50"] == 111.0


def test_no_cases_gives_empty_figures_not_errors(team):
    f = Filters()
    figures = fg.headline(f)
    assert figures["recorded"] == 0
    assert figures["resolution_rate"]["rate"] is None
    assert figures["days_to_resolution"] is None
    assert figures["stage_durations"] == {}


def test_each_list_pages_through_the_cases_behind_its_figure_once(programme):
    p = programme
    f = half_year(p)
    for name, key, by in [(name, None, None) for name in fg.POPULATIONS] + [
            ("closed_unresolved", "moved", None), ("resolved", "91", "province"), ("recorded", "53", "province")]:
        expected = case_ids(fg.drill(name, f, key=key, by=by))
        seen = []
        for offset in range(0, 10, 2):
            seen += [c.id for c in fg.drill_page(name, f, key=key, by=by, limit=2, offset=offset)]
        assert len(seen) == len(set(seen)) and set(seen) == expected, name
    # Resolutions: the most recent first (E on day 150, A on day 72).
    assert [c.id for c in fg.drill_page("resolved", f, limit=10)] == [p.e.id, p.a.id]


def test_whether_a_population_reads_the_cases_table_is_what_its_final_from_list_says(programme):
    # populations.reads_cases reads the FROM list without compiling the statement (a
    # private path of SQLAlchemy's): it must agree with the public get_final_froms.
    t = programme.team
    seen = set()
    for user in (None, t.facilitator, t.supervisor, t.province_auditor, t.manager):
        for filters in (half_year(programme), Filters(), Filters(as_of=day(100)), Filters(province="53")):
            for name, population in fg.POPULATIONS.items():
                statement = population(filters, user)
                expected = any(Case.__table__ in find_tables(part) for part in statement.get_final_froms())
                assert reads_cases(statement) == expected, (name, filters, user)
                seen.add(expected)
    assert seen == {True, False}
