"""Sealed months give the same figures as the raw tables, for every scope they answer.

Each figure is computed twice on the hand-built programme (tests/support/programme.py): from the
raw tables only (CASEFLOW_REPORT_ROLLUPS off), and with every past month sealed. They must
agree exactly, for aligned and unaligned periods, filters and roles.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from caseflow.database import simulated_time, utcnow, write_transaction
from caseflow.extensions import db
from caseflow.models import ReportMonthCell, ReportSealedMonth
from caseflow.reports import figures as fg
from caseflow.reports import sealing as rollup
from caseflow.reports.figures import Filters
from caseflow.services import cases, sealed_months
from caseflow.services.context import Actor
from tests.support.factories import a_step
from tests.support.programme import advance, day, opened, walked
from tests.support.queries import statements

PERIODS = {
    "half year": Filters(start=date(2026, 1, 1), end=date(2026, 6, 30)),
    "unaligned": Filters(start=date(2026, 1, 15), end=date(2026, 5, 20)),
    "to today": Filters(start=date(2026, 2, 1), end=utcnow().date()),
    "all time": Filters(),
    "one province": Filters(start=date(2026, 1, 1), end=date(2026, 6, 30), province="91"),
    "one category": Filters(start=date(2026, 1, 1), end=date(2026, 12, 31), category="P03"),
}


def every_figure(filters: Filters, user=None) -> dict:
    result = {"headline": fg.headline(filters, user), "trend": fg.monthly_trend(filters, user),
              "steps": fg.steps_per_case_per_month(filters, user),
              "distribution": fg.duration_distribution(filters, user)}
    for by in ("province", "category", "facilitator"):
        result[by] = fg.comparison(by, filters, user)
    for name in fg.POPULATIONS:
        result[f"total {name}"] = fg.total(name, filters, user)
        result[f"tally {name}"] = fg.tally(name, filters, user)
    return result


def raw_and_sealed(app, filters: Filters, user=None) -> tuple[dict, dict]:
    app.config["CASEFLOW_REPORT_ROLLUPS"] = False
    raw = every_figure(filters, user)
    app.config["CASEFLOW_REPORT_ROLLUPS"] = True
    rollup.seal()
    return raw, every_figure(filters, user)


def test_sealing_keeps_each_past_month_once(app, programme):
    sealed = rollup.seal()
    assert "2026-01" in sealed and "2026-06" in sealed and "2026-11" in sealed
    assert utcnow().strftime("%Y-%m") not in sealed  # this month is not over
    assert rollup.seal() == {}  # nothing left to seal
    cells = db.session.execute(
        select(func.sum(ReportMonthCell.cases)).where(ReportMonthCell.figure == "recorded",
                                                      ReportMonthCell.key == rollup.ALL_KEYS)).scalar()
    assert cells == 5
    assert db.session.execute(select(func.count()).select_from(ReportSealedMonth)).scalar() == len(sealed)


@pytest.mark.parametrize("period", list(PERIODS))
def test_sealed_months_give_the_raw_figures(app, programme, period):
    raw, sealed = raw_and_sealed(app, PERIODS[period])
    assert sealed == raw


def test_sealed_months_give_the_raw_figures_for_each_role(app, programme):
    t = programme.team
    filters = PERIODS["half year"]
    for user in (t.manager, t.auditor, t.province_auditor, t.supervisor, t.facilitator):
        raw, sealed = raw_and_sealed(app, filters, user)
        assert sealed == raw, user.username


def test_a_case_resolved_in_two_months_counts_once(app, programme, make):
    """Resolved in February, reopened in March, resolved again in April: one resolved case
    in the half year, in February's cells and in April's."""
    t = programme.team
    case = advance(opened(make, t.facilitator, 0), t.facilitator, t.supervisor, walked(2, 4, 6, 30, 35, 40))
    advance(case, t.facilitator, t.supervisor, walked(70, 72, 74, 90, 95, 100))
    assert day(40).month == 2 and day(100).month == 4
    filters = PERIODS["half year"]
    raw, sealed = raw_and_sealed(app, filters)
    assert sealed == raw
    assert sealed["total resolved"] == 3  # A, E and this case, once
    assert sealed["headline"]["resolved_within"][90]["resolved"] == 2  # A and this case, once
    by_month = {m["month"]: m["resolved"] for m in sealed["trend"]}
    assert by_month["2026-02"] == 1 and by_month["2026-04"] == 1  # each month counts it


def test_a_case_reopened_in_two_months_counts_once(app, programme, make):
    """Resolved on 11 January (before the period), reopened in February, closed unresolved
    in March, reopened again in April: one reopened case in the period from 15 January,
    though February's and April's cells each hold it."""
    t = programme.team
    case = advance(opened(make, t.facilitator, 0), t.facilitator, t.supervisor, walked(1, 2, 3, 5, 7, 10))
    advance(case, t.facilitator, t.supervisor, walked(40, 42, 44, 50, 55, 65, end="closed_unresolved"))
    advance(case, t.facilitator, t.supervisor, {"assessment": 100})
    filters = PERIODS["unaligned"]
    assert day(10) < filters.start_at and [day(d).month for d in (40, 65, 100)] == [2, 3, 4]
    raw, sealed = raw_and_sealed(app, filters)
    assert sealed == raw
    reopened = fg.drill("reopened", filters).with_only_columns(func.count())
    assert sealed["total reopened"] == db.session.execute(reopened).scalar_one() >= 1


def test_a_step_logged_into_a_sealed_month_counts_in_it(app, programme):
    """A visit in March entered (or synced from an offline tablet) after March was sealed
    joins March's steps, as the raw tables say; twice over, and in a month with no steps
    in its cells before."""
    rollup.seal()
    filters = PERIODS["half year"]
    before = {m["month"]: m["steps"] for m in fg.steps_per_case_per_month(filters)}
    c = programme.c  # open, in assessment, facilitator 2's
    for when in ("2026-03-10T09:00:00+00:00", "2026-03-11T09:00:00+00:00", "2026-05-02T09:00:00+00:00"):
        cases.log_step(Actor(user=programme.team.facilitator2), c.id, a_step(occurred_at=when))
    db.session.rollback()
    sealed = fg.steps_per_case_per_month(filters)
    app.config["CASEFLOW_REPORT_ROLLUPS"] = False
    assert sealed == fg.steps_per_case_per_month(filters)
    after = {m["month"]: m["steps"] for m in sealed}
    assert after["2026-03"] == before["2026-03"] + 2 and after["2026-05"] == before["2026-05"] + 1


def test_steps_logged_together_into_sealed_months_read_each_month_once(app, programme):
    """A tablet's outbox of visits done on earlier days, in one transaction: the sealing lock
    is taken and a month's blocks are read once, each step still counted; a savepoint that
    rolls back (and releases a lock taken in it) is followed by a fresh look. The month's
    cell is looked up once too."""
    rollup.seal()
    filters = PERIODS["half year"]
    before = {m["month"]: m["steps"] for m in fg.steps_per_case_per_month(filters)}
    db.session.rollback()
    me, c = Actor(user=programme.team.facilitator2), programme.c
    with statements() as seen, write_transaction():
        for when in ("2026-03-10T09:00:00+00:00", "2026-03-11T09:00:00+00:00", "2026-03-12T09:00:00+00:00"):
            cases.log_step(me, c.id, a_step(occurred_at=when))
    reads = [q for q in seen if "report_sealed_months" in q]
    locks = [q for q in seen if "pg_advisory_xact_lock" in q]
    assert len(reads) == 1 and len(locks) == (1 if db.engine.dialect.name == "postgresql" else 0)
    assert len([q for q in seen if q.lstrip().startswith("SELECT report_month_cells.id")]) == 1  # the cell too
    with statements() as seen, write_transaction():
        with db.session.begin_nested() as savepoint:
            cases.log_step(me, c.id, a_step(occurred_at="2026-03-13T09:00:00+00:00"))
            savepoint.rollback()
        cases.log_step(me, c.id, a_step(occurred_at="2026-03-14T09:00:00+00:00"))
    assert len([q for q in seen if "report_sealed_months" in q]) == 2
    sealed = fg.steps_per_case_per_month(filters)
    app.config["CASEFLOW_REPORT_ROLLUPS"] = False
    assert sealed == fg.steps_per_case_per_month(filters)
    assert {m["month"]: m["steps"] for m in sealed}["2026-03"] == before["2026-03"] + 4


def test_a_step_logged_while_its_month_is_being_sealed_counts_once(app, programme, monkeypatch):
    """A tablet syncs a March visit just as the nightly sealing computes March: the
    sealing waits for the step's transaction (or the step for the sealing), so the step is
    in March's cells exactly once, on both databases."""
    c, facilitator_id = programme.c.id, programme.team.facilitator2.id
    step_checked, results = threading.Event(), {}
    count_late_step = sealed_months.count_late_step

    def slow_count(case, occurred_at):
        count_late_step(case, occurred_at)
        step_checked.set()
        time.sleep(0.5)  # the step's transaction is still open while the sealing starts

    monkeypatch.setattr(sealed_months, "count_late_step", slow_count)

    def log_step():
        with app.app_context():
            from caseflow.models import User
            try:
                user = db.session.get(User, facilitator_id)
                cases.log_step(Actor(user=user), c, a_step(occurred_at="2026-03-10T09:00:00+00:00"))
                results["step"] = "ok"
            finally:
                db.session.remove()

    def seal_march():
        with app.app_context():
            try:
                step_checked.wait(10)
                results["cells"] = rollup.seal_month("2026-03")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=log_step), threading.Thread(target=seal_march)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results.get("step") == "ok" and results.get("cells", 0) > 0, results
    db.session.rollback()
    march = Filters(start=date(2026, 3, 1), end=date(2026, 3, 31))
    sealed = fg.steps_per_case_per_month(march)
    app.config["CASEFLOW_REPORT_ROLLUPS"] = False
    raw = fg.steps_per_case_per_month(march)
    assert sealed == raw and raw[0]["steps"] >= 1


def test_a_case_closed_for_whole_months_then_reopened_was_not_open_in_them(app, programme, make):
    """G (category P07) resolved on 10 February, reopened on 11 May: open in January,
    February, May and June, not in March or April, computed raw, sealed before the
    reopening or sealed again after it."""
    t = programme.team
    g = advance(opened(make, t.facilitator, 0, "P07"), t.facilitator, t.supervisor, walked(1, 2, 3, 20, 30, 40))
    only_g = Filters(start=date(2026, 1, 1), end=date(2026, 6, 30), category="P07")
    expected = {"2026-01": 1, "2026-02": 1, "2026-03": 0, "2026-04": 0, "2026-05": 1, "2026-06": 1}

    def open_cases() -> dict:
        return {m["month"]: m["open_cases"] for m in fg.steps_per_case_per_month(only_g)}

    with simulated_time(day(100)):  # mid-April: January to March sealed, G still resolved
        rollup.seal()
    advance(g, t.facilitator, t.supervisor, {"assessment": 130})
    db.session.rollback()
    assert open_cases() == expected  # March sealed before the reopening, April raw
    app.config["CASEFLOW_REPORT_ROLLUPS"] = False
    assert open_cases() == expected
    app.config["CASEFLOW_REPORT_ROLLUPS"] = True
    rollup.seal(rebuild=True)
    db.session.rollback()
    assert open_cases() == expected
    everyone = Filters(start=date(2026, 4, 1), end=date(2026, 4, 30))
    sealed_april = fg.steps_per_case_per_month(everyone)
    app.config["CASEFLOW_REPORT_ROLLUPS"] = False
    assert fg.steps_per_case_per_month(everyone) == sealed_april


def test_the_month_so_far_gives_the_raw_figures_and_is_replaced_daily(app, programme, make):
    """On 15 July the daily sealing keeps 1–14 July as one block; figures for periods
    that end today add it up with the day left raw, and give the raw figures. A case
    resolved in June and again in July counts once; the block is replaced the next day,
    and by the whole month in August."""
    t = programme.team
    twice = advance(opened(make, t.facilitator, 160), t.facilitator, t.supervisor,
                    walked(161, 162, 163, 170, 175, 178))
    advance(twice, t.facilitator, t.supervisor, walked(182, 183, 184, 186, 188, 190))
    advance(opened(make, t.facilitator, 182), t.facilitator, t.supervisor,
            walked(183, 184, 185, 190, 192, 193, end="closed_unresolved"))
    assert day(178).month == 6 and day(190).month == 7 and day(193) < datetime(2026, 7, 15, tzinfo=UTC)
    periods = [Filters(start=date(2026, 1, 1), end=date(2026, 7, 15)), Filters(start=date(2026, 7, 1)),
               Filters(start=date(2026, 6, 10), end=date(2026, 7, 15)), Filters()]
    with simulated_time(datetime(2026, 7, 15, 12, tzinfo=UTC)):
        app.config["CASEFLOW_REPORT_ROLLUPS"] = False
        raw = [every_figure(filters) for filters in periods]
        app.config["CASEFLOW_REPORT_ROLLUPS"] = True
        rollup.seal()
        assert "2026-07-15" in rollup.sealed_blocks() and "2026-07" not in rollup.sealed_blocks()
        sealed = [every_figure(filters) for filters in periods]
        assert sealed == raw
        assert sealed[0]["total resolved"] == raw[0]["total resolved"] >= 3
        assert sealed[0]["total closed_unresolved"] == 2
    with simulated_time(datetime(2026, 7, 16, 1, tzinfo=UTC)):
        rollup.seal()
        assert [b for b in rollup.sealed_blocks() if b.startswith("2026-07")] == ["2026-07-16"]
        db.session.rollback()
        assert [every_figure(filters) for filters in periods[:1]] == raw[:1]
    db.session.rollback()  # a request of another day
    with simulated_time(datetime(2026, 8, 2, tzinfo=UTC)):
        fg.total("recorded", Filters())  # the first figure of August seals July
        assert [b for b in rollup.sealed_blocks() if b.startswith("2026-07")] == ["2026-07"]
        cells = db.session.execute(select(func.count()).select_from(ReportMonthCell)
                                   .where(ReportMonthCell.month.like("2026-07-%"))).scalar_one()
        assert cells == 0


def test_a_month_sealed_by_a_dashboard_once_a_new_month_begins(app, programme):
    """With the months sealed up to last month, the first figure of a new month seals the
    month that just ended; a large backlog is left to the command."""
    assert rollup.ensure_sealed() == []  # nothing sealed yet: not done from a page view
    rollup.seal()
    last = max(rollup.sealed_months())
    with db.session.begin_nested():
        db.session.execute(ReportSealedMonth.__table__.delete().where(ReportSealedMonth.month == last))
        db.session.execute(ReportMonthCell.__table__.delete().where(ReportMonthCell.month == last))
    db.session.commit()
    assert last not in rollup.sealed_months()
    fg.total("recorded", PERIODS["all time"])
    assert last in rollup.sealed_months()


def test_a_month_that_is_not_over_cannot_be_sealed(app):
    with pytest.raises(ValueError):
        rollup.seal_month(utcnow().strftime("%Y-%m"))


def test_histogram_percentiles_are_exact_for_equal_values_and_close_otherwise():
    # Three stays of 1, 5 and 10 days: the same as percentile_cont over the values.
    bins = {24: [1, 86400], 120: [1, 5 * 86400], 240: [1, 10 * 86400]}
    assert fg.percentiles_of(bins, scale=1 / 86400) == {"count": 3, "p50": 5.0, "p90": 9.0}
    # Two values in one bin (1.0003 h and 1.944 h) are read as their mean, 1.47 h: within
    # the bin's hour of the exact median, which is the same mean.
    close = fg.percentiles_of({2: [2, 3601 + 7000]}, scale=1 / 3600)
    assert close == {"count": 2, "p50": 1.47, "p90": 1.47}
    assert fg.percentiles_of({}) is None


@pytest.mark.parametrize("period", ["half year", "unaligned", "one province"])
def test_the_cases_behind_each_figure_are_as_many_as_it_says(app, programme, period):
    rollup.seal()
    filters = PERIODS[period]
    for name in fg.POPULATIONS:
        listed = db.session.execute(select(func.count()).select_from(fg.drill(name, filters).subquery())).scalar()
        assert fg.drill_total(name, filters) == listed, name
        for key, count in fg.tally(name, filters).items():
            assert fg.drill_total(name, filters, key=key) == count, (name, key)
        for province, count in fg.tally(name, filters, by="province").items():
            rows = fg.drill(name, filters, key=province, by="province")
            assert db.session.execute(select(func.count()).select_from(rows.subquery())).scalar() == count


def test_one_block_per_month_is_used():
    blocks = ["2026-05", "2026-06-10", "2026-06-20", "2026-07", "2026-07-09"]
    assert rollup.usable(blocks) == ["2026-05", "2026-06-20", "2026-07"]
    assert rollup.bounds("2026-06-20") == (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 20, tzinfo=UTC))
