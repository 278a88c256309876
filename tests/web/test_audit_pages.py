"""The auditor's pages: search within scope, a case's timeline with before/after, a
facilitator's trail, the integrity check (also after tampering)."""

from __future__ import annotations

from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import AuditEvent, User
from caseflow.web.audit import changes
from tests.support.queries import events
from tests.support.tamper import tamper


def test_changes_lists_fields_added_removed_and_changed():
    before = {"summary": "Rencana", "goals": [{"description": "Sekolah", "target_date": "2027-01-31"}]}
    after = {"summary": "Rencana baru", "goals": [{"description": "Sekolah", "target_date": "2027-02-28"},
                                                   {"description": "Kesehatan", "target_date": None}]}
    found = {c.field: (c.kind, c.before, c.after) for c in changes(before, after)}
    assert found["summary"] == ("changed", "Rencana", "Rencana baru")
    assert found["goals.1.target_date"] == ("changed", "31 Jan 2027", "28 Feb 2027")  # dates in words
    [target] = [c for c in changes(before, after) if c.field == "goals.1.target_date"]
    assert (target.raw_before, target.raw_after) == ("2027-01-31", "2027-02-28")  # the stored values
    assert found["goals.2.description"] == ("added", None, "Kesehatan")
    assert "goals.1.description" not in found
    assert [c.kind for c in changes({"a": 1}, None)] == ["removed"]
    [due] = changes({"due": None}, {"due": "2026-01-05T01:30:00Z"})
    assert due.after.endswith("2026-01-05 01:30:00 UTC")
    assert changes(None, None) == []


def test_auditor_lands_on_search_and_sees_only_the_scope(signed_in, team, make):
    papua = make.case(team.facilitator, to="assessment")
    ntt = make.case(team.other_facilitator, to="assessment")
    national = signed_in(team.auditor)
    assert national.get("/").headers["Location"] == "/audit/cases"
    page = national.get("/audit/cases")
    assert papua.number in page.text and ntt.number in page.text
    found = national.get("/audit/cases", query_string={"q": ntt.client.full_name.lower()})
    assert ntt.number in found.text and papua.number not in found.text
    scoped = signed_in(team.province_auditor).get("/audit/cases").text
    assert ntt.number in scoped and papua.number not in scoped


def test_timeline_shows_every_event_with_local_and_utc_time_and_the_diff(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    page = signed_in(team.auditor).get(f"/audit/cases/{case.id}/history")
    assert page.status_code == 200
    case_events = events("case.opened", case.id) + events("plan.saved", case.id)
    for event in case_events:
        assert f'id="event-{event.id}"' in page.text
    assert "UTC" in page.text and "WIB" in page.text  # the auditor works in Jakarta (31)
    assert "<ins>Kembali sekolah</ins>" in page.text  # the plan's goal, added
    assert team.facilitator.full_name in page.text
    viewed = events("case.viewed", case.id)
    assert len(viewed) == 1 and viewed[0].context["page"] == "audit history"


def test_timeline_of_a_case_outside_scope_is_not_found_and_recorded(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    response = signed_in(team.province_auditor).get(f"/audit/cases/{case.id}/history")
    assert response.status_code == 404
    [denied] = events("access.denied")
    assert denied.actor_id == team.province_auditor.id and denied.context["case_id"] == case.id
    assert events("case.viewed", case.id) == []


def test_facilitator_trail_over_a_period(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    make.case(team.facilitator2, to="planning")
    client = signed_in(team.auditor)
    empty = client.get("/audit/trail")
    assert empty.status_code == 200 and team.facilitator.full_name in empty.text
    page = client.get("/audit/trail", query_string={"facilitator_id": team.facilitator.id})
    assert page.status_code == 200
    assert case.number in page.text and f"/audit/cases/{case.id}/history#event-" in page.text
    assert "risk_level" in page.text  # the fields touched are named, not their content
    assert "Anak tidak bersekolah" not in page.text
    actions = len(list(db.session.execute(select(AuditEvent.id).where(
        AuditEvent.actor_id == team.facilitator.id)).scalars()))
    assert page.text.count("<tr>") == actions + 1  # + the header row


def test_trail_refuses_bad_dates_and_people_outside_scope(signed_in, team):
    client = signed_in(team.province_auditor)
    bad = client.get("/audit/trail", query_string={"facilitator_id": team.other_facilitator.id,
                                                    "from": "2026-13-01"})
    assert bad.status_code == 422 and 'id="f-from-error-1"' in bad.text
    reversed_ = client.get("/audit/trail", query_string={"facilitator_id": team.other_facilitator.id,
                                                          "from": "2026-05-01", "until": "2026-04-01"})
    assert reversed_.status_code == 422 and 'id="f-until-error-1"' in reversed_.text
    outside = client.get("/audit/trail", query_string={"facilitator_id": team.facilitator.id})
    assert outside.status_code == 422 and 'id="f-facilitator-id-error-1"' in outside.text


def test_integrity_check_reports_intact_then_names_the_altered_event(app, signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    client = signed_in(team.auditor)
    assert client.get("/audit/integrity").status_code == 200
    ok = client.post("/audit/integrity", data={})
    assert ok.status_code == 200 and "integrity-ok" in ok.text
    one = client.post("/audit/integrity", data={"case_number": case.number})
    assert "integrity-ok" in one.text and case.number in one.text
    unknown = client.post("/audit/integrity", data={"case_number": "99-2000-000001"})
    assert unknown.status_code == 422 and 'id="f-case-number-error-1"' in unknown.text
    opened = events("case.opened", case.id)[0]
    tamper("UPDATE audit_events SET actor_role = 'admin' WHERE id = :id", id=opened.id)
    broken = client.post("/audit/integrity", data={})
    assert "integrity-broken" in broken.text and f"event {opened.id}" in broken.text
    assert "altered" in broken.text


def test_integrity_case_outside_scope_is_refused_at_the_field(signed_in, team, make):
    case = make.case(team.facilitator, to="recorded")
    refused = signed_in(team.province_auditor).post("/audit/integrity", data={"case_number": case.number})
    assert refused.status_code == 422 and 'id="f-case-number-error-1"' in refused.text
    assert isinstance(team.auditor, User)


def test_long_timelines_are_paged_oldest_first(signed_in, team, make, monkeypatch):
    import caseflow.web.audit as audit_pages

    monkeypatch.setattr(audit_pages, "TIMELINE_PAGE_SIZE", 5)
    case = make.case(team.facilitator, to="evaluation")
    client = signed_in(team.auditor)
    first = client.get(f"/audit/cases/{case.id}/history")
    assert first.text.count('class="timeline-event') == 5
    assert f'href="/audit/cases/{case.id}/history?page=2"' in first.text
    [opened] = events("case.opened", case.id)
    assert f'id="event-{opened.id}"' in first.text
    last_page = client.get(f"/audit/cases/{case.id}/history", query_string={"page": "999"})
    assert last_page.status_code == 200 and f'id="event-{opened.id}"' not in last_page.text
    assert "audit history" in last_page.text  # the views of this very page come last
