"""Work-target figures on hand-built data: the report tests' programme (tests/support/
programme.py; T0 = 2026-01-01 12:00 UTC) plus the work below on known days, each measure
worked out by hand.

  A (facilitator): recorded day 0, assessment days 10–20 (20 days: not within 14),
    resolved day 72; a step on day 100 makes its first aftercare contact (due day 102).
  B (facilitator): assessment days 5–15 (15 days: not within 14).
  C (facilitator 2): recorded day 30, in assessment since day 50; a home visit planned for
    day 33 never made; a referral sent day 55 and answered day 60; a home visit planned
    for day 57 and made by the step that day.
  E (facilitator): assessment days 1–2 (within 14), resolved day 150, reopened day 160
    (assessment again, not left).
  D (NTT, another province): recorded day 40, nothing done.
"""

from __future__ import annotations

from datetime import date

import pytest

from caseflow.database import simulated_time
from caseflow.reports.figures import Filters
from caseflow.reports.figures.targets import measure_by, measures_by
from caseflow.services import agenda, cases, referrals
from caseflow.services.context import Actor
from tests.support.factories import a_step
from tests.support.programme import day

HALF_YEAR = Filters(start=date(2026, 1, 1), end=date(2026, 6, 30))
JANUARY = Filters(start=date(2026, 1, 1), end=date(2026, 1, 31))
NOTHING = dict.fromkeys(("cases_resolved", "assessed_within", "visits_made", "referrals_answered",
                         "aftercare_contacts_made"), 0)


@pytest.fixture
def work(programme):
    team = programme.team
    me, other = Actor(user=team.facilitator), Actor(user=team.facilitator2)
    with simulated_time(day(100)):
        cases.log_step(me, programme.a.id, a_step(notes="Kontak bimbingan lanjut"))
    with simulated_time(day(31)):
        agenda.plan_visit(other, programme.c.id, {"step_type": "home_visit", "planned_at": "2026-02-03T09:00"})
    with simulated_time(day(55)):
        referral = referrals.send_referral(other, programme.c.id, {
            "destination_type": "dukcapil", "institution": "Dukcapil Jayawijaya", "reason": "KTP"})
    with simulated_time(day(60)):
        referrals.record_answer(other, referral.id, {"status": "service_given", "feedback": "KTP terbit"})
    with simulated_time(day(56)):
        agenda.plan_visit(other, programme.c.id, {"step_type": "home_visit", "planned_at": "2026-02-27T09:00"})
    with simulated_time(day(57)):
        cases.log_step(other, programme.c.id, a_step(step_type="home_visit"))
    return programme


def test_each_measure_per_facilitator_over_half_a_year(work):
    team = work.team
    found = measures_by(HALF_YEAR)
    assert found[team.facilitator.id] == NOTHING | {"cases_resolved": 2, "assessed_within": 1,
                                                    "aftercare_contacts_made": 1}
    assert found[team.facilitator2.id] == NOTHING | {"visits_made": 1, "referrals_answered": 1}
    assert team.other_facilitator.id not in found


def test_a_period_counts_only_what_happened_in_it(work):
    team = work.team
    assert measures_by(JANUARY) == {team.facilitator.id: NOTHING | {"assessed_within": 1}}
    february = Filters(start=date(2026, 2, 1), end=date(2026, 2, 28))
    assert measures_by(february) == {team.facilitator2.id: NOTHING | {"visits_made": 1}}
    # Sent in February, answered on 2 March: March's answer.
    march = Filters(start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert measures_by(march) == {team.facilitator.id: NOTHING | {"cases_resolved": 1},
                                  team.facilitator2.id: NOTHING | {"referrals_answered": 1}}
    assert measure_by("cases_resolved", march) == {team.facilitator.id: 1}  # A, day 72 (14 March)


def test_by_province_and_within_the_viewers_scope(work):
    team = work.team
    assert measures_by(HALF_YEAR, by="province") == {"91": {
        "cases_resolved": 2, "assessed_within": 1, "visits_made": 1, "referrals_answered": 1,
        "aftercare_contacts_made": 1}}
    assert set(measures_by(HALF_YEAR, team.facilitator2)) == {team.facilitator2.id}
    assert measures_by(HALF_YEAR, team.other_supervisor) == {}
    assert set(measures_by(HALF_YEAR, team.supervisor)) == {team.facilitator.id, team.facilitator2.id}
