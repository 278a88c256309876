"""Sync health on the supervisor's pages (issue 15): the team page's last-sync column,
marked when a tablet is working blind; the late-work list and the case page's badge, for
the team's supervisor only; the sync gauges in /metrics (issue 18)."""

from __future__ import annotations

from datetime import timedelta

from caseflow.database import utcnow, write_transaction
from caseflow.extensions import db
from caseflow.models import LateArrival, Step, SyncReport
from tests.support.factories import a_step
from tests.support.queries import count


def _synced(user, days_ago: float, waiting: int | None = None, oldest_days: float | None = None) -> None:
    now = utcnow()
    with write_transaction():
        db.session.merge(SyncReport(user_id=user.id, last_sync_at=now - timedelta(days=days_ago), waiting=waiting,
                                    oldest_waiting_at=now - timedelta(days=oldest_days) if oldest_days else None))


def _row(page: str, name: str) -> str:
    return page.split("<tbody>")[1].split(name)[1].split("</tr>")[0]


def test_the_team_page_shows_each_facilitators_last_sync_in_both_languages(signed_in, team):
    _synced(team.facilitator, days_ago=5)
    _synced(team.facilitator2, days_ago=0.1, waiting=4, oldest_days=0.5)
    client = signed_in(team.supervisor)
    page = client.get("/team").text
    assert "Sinkron terakhir" in page
    assert "Bekerja tanpa sinkron?" in _row(page, team.facilitator.full_name)
    fresh_row = _row(page, team.facilitator2.full_name)
    assert "Bekerja tanpa sinkron?" not in fresh_row and "Menunggu di tablet: 4" in fresh_row
    client.post("/language", data={"locale": "en"})
    page = client.get("/team").text
    assert "Last sync" in page and "Working blind?" in _row(page, team.facilitator.full_name)


def test_work_waiting_too_long_on_the_tablet_is_marked_even_after_a_recent_sync(signed_in, team):
    _synced(team.facilitator, days_ago=0.1, waiting=1, oldest_days=4)
    page = signed_in(team.supervisor).get("/team").text
    assert "Bekerja tanpa sinkron?" in _row(page, team.facilitator.full_name)


def test_late_work_is_counted_listed_and_badged_for_the_teams_supervisor_only(signed_in, make, team):
    case = make.case(team.facilitator, to="intervention")
    answer = signed_in(team.facilitator).post("/api/v1/outbox", json={"entries": [
        {"key": "late-web", "kind": "step", "case_id": case.id, "body": a_step(),
         "device_time": (utcnow() - timedelta(days=6)).isoformat()}]})
    assert answer.json["results"][0]["status"] == 201
    assert count(LateArrival, LateArrival.case_id == case.id) == 1

    supervisor = signed_in(team.supervisor)
    team_page = supervisor.get("/team").text
    assert "Terlambat, perlu ditinjau: 1" in _row(team_page, team.facilitator.full_name)
    listing = supervisor.get("/team/late-work").text
    assert case.number in listing and team.facilitator.full_name in listing
    assert "Terlambat dari tablet" in supervisor.get(f"/cases/{case.id}").text

    assert case.number not in signed_in(team.other_supervisor).get("/team/late-work").text
    assert signed_in(team.facilitator).get("/team/late-work").status_code == 403
    assert "Terlambat dari tablet" not in signed_in(team.facilitator).get(f"/cases/{case.id}").text


def test_the_metrics_carry_the_sync_lag(app, client, monkeypatch, team):
    _synced(team.facilitator, days_ago=5, waiting=2, oldest_days=6)
    monkeypatch.setitem(app.config, "CASEFLOW_METRICS_TOKEN", "sync-token")
    body = client.get("/metrics", headers={"Authorization": "Bearer sync-token"}).get_data(as_text=True)
    lag = next(line for line in body.splitlines() if line.startswith("caseflow_sync_oldest_waiting_age_seconds "))
    assert float(lag.split()[1]) > 5 * 86400
    stale = next(line for line in body.splitlines() if line.startswith("caseflow_sync_stale_facilitators "))
    assert float(stale.split()[1]) >= 1


def test_no_step_is_badged_without_a_late_arrival(signed_in, make, team):
    case = make.case(team.facilitator, to="intervention")
    signed_in(team.facilitator).post("/api/v1/outbox", json={"entries": [
        {"key": "on-time", "kind": "step", "case_id": case.id, "body": a_step(),
         "device_time": (utcnow() - timedelta(days=1)).isoformat()}]})
    assert count(Step, Step.case_id == case.id) == 1
    assert "Terlambat dari tablet" not in signed_in(team.supervisor).get(f"/cases/{case.id}").text
