"""The agenda on the pages: the facilitator's morning (plan a visit, see it, log it, see it
done), the supervisor's team view, the settings and the private calendar feed."""

from __future__ import annotations

import re
from datetime import timedelta

import icalendar
from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.models import ActionPoint, AuditEvent, PlannedVisit
from tests.support.factories import a_step, today_for


def sync() -> None:
    db.session.rollback()
    db.session.expire_all()


def noon(day) -> str:
    return f"{day.isoformat()}T12:00"


def test_the_facilitators_morning_plan_a_visit_log_it_see_it_done(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    web = signed_in(team.facilitator)
    form = web.get(f"/cases/{case.id}/visits/new")
    assert form.status_code == 200 and "Rencanakan kunjungan" in form.get_data(as_text=True)
    refused = web.post(f"/cases/{case.id}/visits/new", data={"step_type": "home_visit", "planned_at": ""})
    assert refused.status_code == 422 and 'id="f-planned-at-error-1"' in refused.get_data(as_text=True)
    today = today_for(team.facilitator)
    planned = web.post(f"/cases/{case.id}/visits/new", data={
        "step_type": "home_visit", "planned_at": noon(today), "place": "Wamena", "purpose": "Cek sekolah"})
    assert planned.status_code == 303
    page = web.get("/agenda").get_data(as_text=True)
    assert 'data-agenda-kind="planned_visit"' in page and case.number in page
    assert "Kunjungan terencana" in page
    case_page = web.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-visit-status="planned"' in case_page
    web.post(f"/cases/{case.id}/steps/new", data=a_step(occurred_at=f"{today.isoformat()}T00:01")
             | {"expected_version": ""})
    sync()
    assert db.session.execute(select(PlannedVisit.status)).scalar_one() == "done"
    assert 'data-agenda-kind="planned_visit"' not in web.get("/agenda").get_data(as_text=True)
    assert 'data-visit-status="done"' in web.get(f"/cases/{case.id}").get_data(as_text=True)


def test_cancelling_a_visit_needs_a_reason(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    web = signed_in(team.facilitator)
    web.post(f"/cases/{case.id}/visits/new", data={
        "step_type": "phone_call", "planned_at": noon(today_for(team.facilitator) + timedelta(days=1))})
    sync()
    visit_id = db.session.execute(select(PlannedVisit.id)).scalar_one()
    assert web.post(f"/visits/{visit_id}/cancel", data={"reason": ""}).status_code == 303
    sync()
    assert db.session.get(PlannedVisit, visit_id).status == "planned"
    assert signed_in(team.other_facilitator).post(f"/visits/{visit_id}/cancel",
                                                  data={"reason": "x"}).status_code == 404
    assert web.post(f"/visits/{visit_id}/cancel", data={"reason": "Klien sakit"}).status_code == 303
    sync()
    assert db.session.get(PlannedVisit, visit_id).status == "cancelled"


def test_the_supervisor_sees_the_team_and_not_another_team(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    signed_in(team.facilitator).post(f"/cases/{case.id}/visits/new", data={
        "step_type": "home_visit", "planned_at": noon(today_for(team.facilitator) + timedelta(days=2))})
    web = signed_in(team.supervisor)
    page = web.get("/agenda/team").get_data(as_text=True)
    assert case.number in page and team.facilitator.full_name in page
    assert case.number in web.get("/agenda/team", query_string={"facilitator": team.facilitator.id}).get_data(
        as_text=True)
    assert web.get("/agenda/team", query_string={"facilitator": team.other_facilitator.id}).status_code == 404
    assert web.get("/agenda/team", query_string={"facilitator": "²"}).status_code == 404
    assert case.number not in signed_in(team.other_supervisor).get("/agenda/team").get_data(as_text=True)
    assert signed_in(team.facilitator).get("/agenda/team").status_code == 403
    for outsider in (team.auditor, team.manager, team.admin):
        assert signed_in(outsider).get("/agenda").status_code == 403


def test_the_calendar_feed_is_private_revocable_and_parses(signed_in, client, team, make):
    case = make.case(team.facilitator, to="intervention")
    web = signed_in(team.facilitator)
    web.post(f"/cases/{case.id}/visits/new", data={
        "step_type": "home_visit", "place": "Rumah klien", "planned_at": noon(today_for(team.facilitator)
                                                                            + timedelta(days=1))})
    page = web.post("/agenda/settings/feed").get_data(as_text=True)
    url = re.search(r'id="feed-url"[^>]*value="([^"]+)"', page).group(1)
    path = url.split("://", 1)[1].split("/", 1)[1]
    feed = client.get("/" + path)  # no session: the address is the key
    assert feed.status_code == 200 and feed.content_type.startswith("text/calendar")
    events = list(icalendar.Calendar.from_ical(feed.data).walk("VEVENT"))
    assert [str(e["SUMMARY"]) for e in events] == [f"Kunjungan terencana · {case.number}"]
    assert case.client.full_name not in feed.get_data(as_text=True)
    assert "Rumah klien" not in feed.get_data(as_text=True)
    web.post("/agenda/settings", data={"remind_tomorrow": "1", "feed_details": "1"})
    assert "Rumah klien" in client.get("/" + path).get_data(as_text=True)
    assert web.post("/agenda/settings/feed/revoke").status_code == 303
    assert client.get("/" + path).status_code == 404
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    sync()
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.action.like("agenda.%"))
                                 .order_by(AuditEvent.id)).scalars().all()
    assert actions == ["agenda.feed_created", "agenda.settings_changed", "agenda.feed_revoked"]
    assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "access.denied")).scalar_one() == 0


def test_an_action_point_links_from_the_agenda_to_its_case_where_it_is_ticked_off(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    today = today_for(team.supervisor)
    boss = signed_in(team.supervisor)
    assert boss.post("/supervision/new", data={
        "kind": "individual", "held_on": today.isoformat(), "facilitator_ids": str(team.facilitator.id),
        "case_ids": str(case.id), "notes": "Catatan", "step": "save", "ap-0-description": "Kunjungi sekolah",
        "ap-0-owner_id": str(team.facilitator.id), "ap-0-case_id": str(case.id),
        "ap-0-due_on": today.isoformat()}).status_code == 303
    sync()
    point = db.session.execute(select(ActionPoint)).scalar_one()
    web = signed_in(team.facilitator)
    page = web.get("/agenda").get_data(as_text=True)
    link = f'href="/cases/{case.id}#action-point-{point.id}"'
    assert 'data-agenda-kind="action_point"' in page and link in page and "Tindak lanjut supervisi" in page
    assert f'id="action-point-{point.id}"' in web.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-agenda-kind="action_point"' in boss.get("/agenda/team").get_data(as_text=True)
    assert web.post(f"/action-points/{point.id}/done").status_code == 303
    assert 'data-agenda-kind="action_point"' not in web.get("/agenda").get_data(as_text=True)
