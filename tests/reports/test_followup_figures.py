"""Aftercare and referral figures on hand-built data (conftest.programme, plus the moves
below on known days), the lists behind them, and the monitoring page that shows them.

Aftercare (contacts 30, 90 and 150 days after the resolution, ±14 days):
  A resolved day 72: follow-ups on days 100 and 160 make contacts 1 and 2, the third (day
    222) is missed; its aftercare ends day 252 → not as planned.
  E resolved day 150, reopened day 160 → relapsed (ended day 160).
  F (facilitator, P04) resolved day 20: follow-ups days 50, 110 and 170 → as planned
    (ended day 200).
Referrals (sent → answered), from G and H (facilitator, in intervention from day 3 on):
  R1 G dukcapil day 35 → service given day 40 (5 days)
  R2 H health day 30 → accepted day 60 (30 days)
  R3 H dukcapil day 50 → refused day 55 (5 days)
  R4 H school day 90 → never answered (expected day 104: overdue now)
  R5 G ppa day 100 → no answer, recorded day 120
"""

from __future__ import annotations

from datetime import date

import pytest

from caseflow.database import simulated_time
from caseflow.extensions import db
from caseflow.reports import figures as fg
from caseflow.reports import sealing
from caseflow.reports.figures import Filters
from caseflow.services import cases, referrals
from caseflow.services.context import Actor
from tests.support.factories import a_step
from tests.support.programme import advance, day, opened

YEAR = Filters(start=date(2026, 1, 1), end=date(2026, 12, 31))
HALF_YEAR = Filters(start=date(2026, 1, 1), end=date(2026, 6, 30))


def step_on(case, facilitator, when: float) -> None:
    with simulated_time(day(when)):
        cases.log_step(Actor(user=facilitator), case.id, a_step(notes="Bimbingan lanjut"))


def refer(case, facilitator, when: float, destination: str) -> int:
    with simulated_time(day(when)):
        return referrals.send_referral(Actor(user=facilitator), case.id, {
            "destination_type": destination, "institution": f"Layanan {destination}", "reason": "Rujukan"}).id


def answer(referral_id: int, facilitator, when: float, status: str) -> None:
    with simulated_time(day(when)):
        referrals.record_answer(Actor(user=facilitator), referral_id, {"status": status, "feedback": "Jawaban"})


@pytest.fixture
def followed(programme, make, prepared):
    """The programme with F, G, H and the referrals (built once, then copied back)."""
    built = prepared("followed", lambda: follow(programme, make))
    vars(programme).update(vars(built))  # a copy comes back as objects of its own
    return programme


def follow(programme, make):
    t = programme.team
    fac, sup = t.facilitator, t.supervisor
    step_on(programme.a, fac, 100)
    step_on(programme.a, fac, 160)
    f = advance(opened(make, fac, 0, "P04"), fac, sup, {
        "assessment": 1, "planning": 2, "intervention": 3, "evaluation": 10, "termination_review": 15,
        "resolved": 20})
    for when in (50, 110, 170):
        step_on(f, fac, when)
    programme.f = f
    g, h = (advance(opened(make, fac, 0), fac, sup, {"assessment": 1, "planning": 2, "intervention": 3})
            for _ in range(2))
    programme.referrals = r = {}
    r[2] = refer(h, fac, 30, "health")
    r[1] = refer(g, fac, 35, "dukcapil")
    answer(r[1], fac, 40, "service_given")
    r[3] = refer(h, fac, 50, "dukcapil")
    answer(r[3], fac, 55, "refused")
    answer(r[2], fac, 60, "accepted")
    r[4] = refer(h, fac, 90, "school")
    r[5] = refer(g, fac, 100, "ppa")
    answer(r[5], fac, 120, "no_answer")
    return programme


# --- aftercare -------------------------------------------------------------------------------


def test_aftercare_ended_per_how_it_went(followed):
    assert fg.tally("aftercare_ended", YEAR) == {"as_planned": 1, "not_as_planned": 1, "relapsed": 1}
    assert fg.aftercare_summary(YEAR) == {"in_aftercare": 0, "ended": 3, "as_planned": 1,
                                          "not_as_planned": 1, "relapsed": 1}
    # By the end of June only E's relapse (day 160) had ended an aftercare.
    assert fg.tally("aftercare_ended", HALF_YEAR) == {"relapsed": 1}


def test_in_aftercare_as_of_a_date(followed):
    assert fg.total("in_aftercare", Filters(as_of=day(100))) == 2  # A (from day 72) and F (from day 20)
    assert fg.total("in_aftercare", Filters(as_of=day(155))) == 3  # and E, resolved on day 150
    assert fg.total("in_aftercare", Filters(as_of=day(161))) == 2  # E relapsed on day 160


def test_the_cases_behind_each_aftercare_figure(followed):
    p = followed
    listed = {key: {c.id for c in db.session.execute(fg.drill("aftercare_ended", YEAR, key=key)).scalars()}
              for key in fg.AFTERCARE_ENDED_KEYS}
    assert listed == {"as_planned": {p.f.id}, "not_as_planned": {p.a.id}, "relapsed": {p.e.id}}
    assert fg.drill_total("aftercare_ended", YEAR, key="as_planned") == 1


def test_aftercare_figures_follow_the_viewers_scope(followed):
    t = followed.team
    assert fg.aftercare_summary(YEAR, t.supervisor)["ended"] == 3
    assert fg.aftercare_summary(YEAR, t.facilitator2)["ended"] == 0
    assert fg.aftercare_summary(YEAR, t.other_supervisor)["ended"] == 0
    assert fg.tally("aftercare_ended", YEAR.with_(category="P04")) == {"as_planned": 1}


def test_aftercare_leaves_the_resolved_figures_as_they_were(programme, make, app):
    """The same resolved figures before and after the aftercare steps, raw and sealed."""
    before = {name: fg.total(name, YEAR) for name in ("resolved", "terminated", "reopened", "resolved_as_of")}
    before_rate = fg.resolution_rate(HALF_YEAR)
    step_on(programme.a, programme.team.facilitator, 100)
    step_on(programme.a, programme.team.facilitator, 160)
    assert {name: fg.total(name, YEAR) for name in before} == before
    assert fg.resolution_rate(HALF_YEAR) == before_rate
    app.config["CASEFLOW_REPORT_ROLLUPS"] = True
    sealing.seal()
    assert {name: fg.total(name, YEAR) for name in before} == before
    assert fg.tally("aftercare_ended", YEAR) == {"not_as_planned": 1, "relapsed": 1}  # A and E


# --- referrals -------------------------------------------------------------------------------


def test_referral_figures_per_kind_of_service(followed):
    summary = fg.referral_summary(HALF_YEAR)
    rows = summary["by_destination"]
    assert set(rows) == {"dukcapil", "health", "school", "ppa"}
    assert {k: v["referrals_sent"] for k, v in rows.items()} == {"dukcapil": 2, "health": 1, "school": 1, "ppa": 1}
    assert rows["dukcapil"]["referrals_answered"] == 2
    assert rows["dukcapil"]["referrals_answered_within"] == 2 and rows["dukcapil"]["answered_within_share"] == 1.0
    assert rows["health"]["referrals_answered"] == 1 and rows["health"]["referrals_answered_within"] == 0
    assert rows["school"]["referrals_overdue"] == 1 and rows["ppa"]["referrals_no_answer"] == 1
    total = summary["total"]
    assert total["referrals_sent"] == 5 and total["referrals_answered"] == 3
    assert total["referrals_answered_within"] == 2 and total["answered_within_share"] == 0.4
    assert (total["referrals_service_given"], total["referrals_refused"], total["referrals_no_answer"],
            total["referrals_overdue"]) == (1, 1, 1, 1)
    assert summary["within_days"] == fg.ANSWER_WITHIN_DAYS == 14


def test_referral_figures_of_a_shorter_period_and_as_of_a_date(followed):
    assert fg.referral_tally("referrals_sent", Filters(start=date(2026, 1, 1), end=date(2026, 1, 31))) == {
        "health": 1}
    as_of = Filters(as_of=day(45))
    assert sum(fg.referral_tally("referrals_sent", as_of).values()) == 2  # R1 and R2
    assert fg.referral_tally("referrals_answered", as_of) == {"dukcapil": 1}  # R2 was answered on day 60


def test_referral_figures_follow_the_viewers_scope(followed):
    t = followed.team
    assert fg.referral_summary(YEAR, t.supervisor)["total"]["referrals_sent"] == 5
    for outsider in (t.facilitator2, t.other_supervisor, t.province_auditor):
        assert fg.referral_summary(YEAR, outsider)["total"]["referrals_sent"] == 0
    assert fg.referral_summary(YEAR, t.manager)["total"]["referrals_sent"] == 5


def test_the_referrals_behind_a_figure(followed):
    r = followed.referrals
    behind = db.session.execute(fg.referral_drill("referrals_answered_within", YEAR, key="dukcapil")).scalars()
    assert [x.id for x in behind] == [r[3], r[1]]  # the most recently sent first
    overdue = db.session.execute(fg.referral_drill("referrals_overdue", YEAR)).scalars().all()
    assert [x.id for x in overdue] == [r[4]]


# --- on the monitoring page --------------------------------------------------------------------


def test_the_monitoring_page_shows_them_linked_to_what_is_behind_them(followed, signed_in):
    page = signed_in(followed.team.supervisor).get("/reports/?start=2026-01-01&end=2026-12-31").get_data(as_text=True)
    assert "Rujukan per jenis layanan" in page and "Bimbingan lanjut" in page
    assert "/reports/referrals/referrals_sent?start=2026-01-01&amp;end=2026-12-31&amp;key=dukcapil" in page
    assert "/reports/cases/aftercare_ended?start=2026-01-01&amp;end=2026-12-31&amp;key=relapsed" in page
    listed = signed_in(followed.team.supervisor).get(
        "/reports/referrals/referrals_sent?start=2026-01-01&end=2026-12-31&key=dukcapil").get_data(as_text=True)
    assert "Layanan dukcapil" in listed and "Rujukan ditemukan: 2" in listed
    export = signed_in(followed.team.supervisor).get(
        "/reports/referrals/referrals_sent.csv?start=2026-01-01&end=2026-12-31")
    assert export.status_code == 200 and export.data.decode("utf-8-sig").count("\n") == 6  # header + 5
    manager = signed_in(followed.team.manager).get("/reports/?start=2026-01-01&end=2026-12-31").get_data(as_text=True)
    assert "Rujukan per jenis layanan" in manager and "/reports/referrals/" not in manager
