"""The facilitator's pages through the test client: every route, refused input named at
its field with nothing saved, conflicts, what other roles may see."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import Case, Client, Goal, Step
from caseflow.services import cases as case_services
from caseflow.services.context import Actor
from tests.support.factories import CLIENT_FORM as CLIENT
from tests.support.factories import COMPLETE_ASSESSMENT, complete_plan
from tests.support.queries import count, events, fresh, sync

# --- landing and my cases ---------------------------------------------------------


def test_facilitator_lands_on_my_cases(signed_in, team):
    client = signed_in(team.facilitator)
    assert client.get("/").headers["Location"] == "/cases"


@pytest.mark.parametrize("role", ["supervisor", "auditor", "manager", "admin"])
def test_other_roles_land_on_their_start_page_or_a_menu(signed_in, team, role):
    response = signed_in(getattr(team, role)).get("/")
    assert response.status_code in (200, 302)


def test_my_cases_lists_only_mine_with_state_due_date_and_overdue(signed_in, team, make):
    mine = make.case(team.facilitator, to="assessment")
    theirs = make.case(team.facilitator2)
    db.session.execute(Case.__table__.update().where(Case.id == mine.id)
                       .values(stage_due_at=datetime(2026, 1, 1, tzinfo=UTC)))
    db.session.commit()
    page = signed_in(team.facilitator).get("/cases")
    assert page.status_code == 200
    assert mine.number in page.text and theirs.number not in page.text
    assert "Asesmen" in page.text
    assert "Terlambat" in page.text and "1 Jan 2026" in page.text


def test_my_cases_search_filter_and_pages(signed_in, team, make):
    first = make.case(team.facilitator)
    second = make.case(team.facilitator, to="assessment", category="P04")
    client = signed_in(team.facilitator)
    by_name = client.get("/cases", query_string={"q": first.client.full_name.upper()})
    assert first.number in by_name.text and second.number not in by_name.text
    by_number = client.get("/cases", query_string={"q": second.number})
    assert second.number in by_number.text and first.number not in by_number.text
    by_state = client.get("/cases", query_string={"state": "assessment"})
    assert second.number in by_state.text and first.number not in by_state.text
    by_category = client.get("/cases", query_string={"category": "P02"})
    assert first.number in by_category.text and second.number not in by_category.text
    nothing = client.get("/cases", query_string={"q": "zzz-nobody"})
    assert "Tidak ada kasus yang cocok." in nothing.text
    assert client.get("/cases", query_string={"page": "999"}).status_code == 200


def test_my_cases_paginates(signed_in, team, make, monkeypatch):
    monkeypatch.setattr("caseflow.web.cases.PAGE_SIZE", 2)
    for _ in range(3):
        make.case(team.facilitator)
    client = signed_in(team.facilitator)
    first = client.get("/cases")
    assert "Halaman 1 dari 2" in first.text and first.text.count('class="case-item"') == 2
    second = client.get("/cases", query_string={"page": 2})
    assert second.text.count('class="case-item"') == 1
    past_the_end = client.get("/cases", query_string={"page": 9})  # the last page
    assert "Halaman 2 dari 2" in past_the_end.text and past_the_end.text.count('class="case-item"') == 1


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_case_lists_are_not_for_figures_and_accounts_roles(signed_in, team, role):
    client = signed_in(getattr(team, role))
    assert client.get("/cases").status_code == 403
    assert client.get("/clients/new").status_code == 403


# --- registering a client and opening a case ----------------------------------------


def test_register_client_with_a_bad_nik_names_the_field_and_saves_nothing(signed_in, team):
    client = signed_in(team.facilitator)
    response = client.post("/clients/new", data=CLIENT | {"nik": "9901015508850001"})
    assert response.status_code == 422
    assert re.search(r'id="f-nik-error-1">NIK diawali 99, yang bukan kode provinsi', response.text)
    assert 'value="Siti Kogoya"' in response.text  # what was typed stays
    assert count(Client) == 0


def test_nik_error_in_english_when_english_is_chosen(signed_in, team):
    client = signed_in(team.facilitator)
    client.post("/language", data={"locale": "en"})
    response = client.post("/clients/new", data=CLIENT | {"nik": "91010155088"})
    assert response.status_code == 422
    assert "NIK must have 16 digits (this one has 11)." in response.text


def test_register_client_then_open_a_case(signed_in, team):
    client = signed_in(team.facilitator)
    assert client.get("/clients/new").status_code == 200
    response = client.post("/clients/new", data=CLIENT)
    assert response.status_code == 303
    form = client.get(response.headers["Location"])
    assert "Siti Kogoya" in form.text and "9101**********01" in form.text
    refused = client.post(response.headers["Location"], data={"ppks_category_code": "X99"})
    assert refused.status_code == 422 and 'id="f-ppks-category-code-error-1"' in refused.text
    assert count(Case) == 0
    opened = client.post(response.headers["Location"], data={"ppks_category_code": "P02", "summary": "Putus sekolah"})
    assert opened.status_code == 303
    sync()
    case = db.session.execute(select(Case)).scalar_one()
    assert opened.headers["Location"] == f"/cases/{case.id}"
    assert case.state == "recorded" and case.facilitator_id == team.facilitator.id


def test_another_teams_client_cannot_be_opened(signed_in, team, make):
    other_team = make.user("facilitator", province="91", supervisor=make.user("supervisor", province="91"))
    someone_else = make.client(other_team)
    client = signed_in(team.facilitator)
    assert client.get(f"/clients/{someone_else.id}/open-case").status_code == 404
    assert client.post(f"/clients/{someone_else.id}/open-case", data={"ppks_category_code": "P02"}).status_code == 404
    assert count(Case) == 0


def test_a_team_mates_client_without_a_case_can_be_taken_on(signed_in, team, make):
    """Issue 19: the client a colleague registered but never gave a case is not lost."""
    left_behind = make.client(team.facilitator2)
    client = signed_in(team.facilitator)
    assert client.get(f"/clients/{left_behind.id}/open-case").status_code == 200
    opened = client.post(f"/clients/{left_behind.id}/open-case", data={"ppks_category_code": "P02"})
    assert opened.status_code == 303 and count(Case) == 1


# --- the case page -------------------------------------------------------------------


def test_case_page_shows_progress_actions_and_records_a_view(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    page = signed_in(team.facilitator).get(f"/cases/{case.id}")
    assert page.status_code == 200
    progress = page.text[page.text.index('class="progress"'):page.text.index("</ol>")]
    assert progress.index("Terdata") < progress.index("Asesmen") < progress.index("Evaluasi")
    assert 'class="current" aria-current="step"' in progress
    assert "Terselesaikan / Ditutup, tidak terselesaikan" in progress
    assert "Selesaikan asesmen" in page.text and "Asesmen belum diisi." in page.text
    assert 'name="expected_version" value="2"' in page.text
    viewed = events("case.viewed", case.id)
    assert len(viewed) == 1 and viewed[0].actor_id == team.facilitator.id


def test_resolved_case_shows_its_outcome(signed_in, team, make):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    page = signed_in(team.facilitator).get(f"/cases/{case.id}")
    assert 'outcome-resolved' in page.text and "Kasus sudah ditutup." in page.text
    # Resolved, and in aftercare: follow-up steps are logged (tests/web/test_loop_pages.py).
    assert 'id="aftercare"' in page.text and "Catat langkah" in page.text
    closed = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
    page = signed_in(team.facilitator).get(f"/cases/{closed.id}")
    assert 'outcome-closed_unresolved' in page.text and "Catat langkah" not in page.text


def test_assessment_with_a_bad_risk_level_is_refused_at_the_field(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    response = signed_in(team.facilitator).post(f"/cases/{case.id}/assessment", data={
        **COMPLETE_ASSESSMENT, "risk_level": "extreme", "expected_version": case.version})
    assert response.status_code == 422
    assert 'id="f-risk-level-error-1"' in response.text
    assert "Anak tidak bersekolah" in response.text
    assert fresh(case).version == case.version and fresh(case).assessment is None


def test_assessment_saved_then_action_moves_on(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    client = signed_in(team.facilitator)
    saved = client.post(f"/cases/{case.id}/assessment", data={**COMPLETE_ASSESSMENT, "expected_version": case.version})
    assert saved.status_code == 303
    moved = client.post(f"/cases/{case.id}/actions/complete_assessment", data={"expected_version": case.version + 1})
    assert moved.status_code == 303
    assert fresh(case).state == "planning"


def test_refused_action_says_what_is_missing(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    client = signed_in(team.facilitator)
    response = client.post(f"/cases/{case.id}/actions/complete_assessment",
                           data={"expected_version": case.version},
                           headers={"Referer": f"http://localhost/cases/{case.id}"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/cases/{case.id}")
    page = client.get(response.headers["Location"])
    assert 'class="flash flash-error"' in page.text and "Asesmen belum diisi." in page.text
    assert fresh(case).state == "assessment"


def test_stale_form_gets_a_conflict_message_and_nothing_saved(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    client = signed_in(team.facilitator)
    client.post(f"/cases/{case.id}/assessment", data={**COMPLETE_ASSESSMENT, "expected_version": case.version})
    stale = client.post(f"/cases/{case.id}/assessment",
                        data={**COMPLETE_ASSESSMENT, "problem": "Ditimpa", "expected_version": case.version},
                        headers={"Referer": f"http://localhost/cases/{case.id}"})
    assert stale.status_code == 303
    page = client.get(stale.headers["Location"])
    assert "flash-warning" in page.text and "versi" in page.text
    assert "Kasus sekarang pada tahap “Asesmen”." in page.text
    assert fresh(case).assessment.problem == COMPLETE_ASSESSMENT["problem"]


def test_plan_goals_added_and_removed_without_javascript(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    client = signed_in(team.facilitator)
    page = client.get(f"/cases/{case.id}")
    assert 'name="goals-0-description"' in page.text and "data-add-goal" in page.text
    version = case.version
    client.post(f"/cases/{case.id}/plan", data={
        "expected_version": version, "summary": "Rencana",
        "goals-0-description": "Kembali sekolah", "goals-0-target_date": "2027-01-31",
        "goals-0-responsible_party": "Pendamping"})
    page = client.get(f"/cases/{case.id}")
    goal_id = re.search(r'name="goals-0-id" value="(\d+)"', page.text).group(1)
    assert 'name="goals-1-description"' in page.text  # an empty row for one more
    client.post(f"/cases/{case.id}/plan", data={
        "expected_version": version + 1, "summary": "Rencana",
        "goals-0-id": goal_id, "goals-0-description": "Kembali sekolah", "goals-0-target_date": "2027-01-31",
        "goals-0-responsible_party": "Pendamping", "goals-0-remove": "1",
        "goals-1-description": "Bantuan biaya", "goals-1-target_date": "2026-12-31",
        "goals-1-responsible_party": "Dinas Sosial"})
    goals = fresh(case).plan.goals
    assert [(g.description, g.archived) for g in goals] == [("Kembali sekolah", True), ("Bantuan biaya", False)]


def test_plan_with_a_bad_date_names_the_goal_row(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    response = signed_in(team.facilitator).post(f"/cases/{case.id}/plan", data={
        "expected_version": case.version, "summary": "",
        "goals-0-description": "", "goals-0-target_date": "", "goals-0-responsible_party": "",
        "goals-3-description": "Kembali sekolah", "goals-3-target_date": "31/02/2027",
        "goals-3-responsible_party": "Pendamping"})
    assert response.status_code == 422
    assert 'id="f-goals-3-target-date-error-1"' in response.text
    assert 'value="31/02/2027"' in response.text
    assert count(Goal) == 0


def test_evaluation_rates_each_goal_of_the_plan(signed_in, team, make):
    case = make.case(team.facilitator, to="evaluation")
    client = signed_in(team.facilitator)
    page = client.get(f"/cases/{case.id}")
    goal_ids = re.findall(r'name="ratings-(\d+)-goal"', page.text)
    assert len(goal_ids) == 1
    refused = client.post(f"/cases/{case.id}/evaluation", data={
        "expected_version": case.version, f"ratings-{goal_ids[0]}-goal": "1",
        f"ratings-{goal_ids[0]}-rating": "brilliant"})
    assert refused.status_code == 422
    assert f'id="f-ratings-{goal_ids[0]}-rating-error-1"' in refused.text
    saved = client.post(f"/cases/{case.id}/evaluation", data={
        "expected_version": case.version, "summary": "Baik", f"ratings-{goal_ids[0]}-goal": "1",
        f"ratings-{goal_ids[0]}-rating": "partly_achieved", f"ratings-{goal_ids[0]}-notes": "Hampir"})
    assert saved.status_code == 303
    ratings = fresh(case).evaluation.ratings
    assert [(r.rating, r.notes) for r in ratings] == [("partly_achieved", "Hampir")]


def test_termination_request_closed_unresolved_needs_a_reason(signed_in, team, make):
    case = make.case(team.facilitator, to="evaluation")
    client = signed_in(team.facilitator)
    refused = client.post(f"/cases/{case.id}/termination", data={
        "expected_version": case.version, "outcome": "closed_unresolved", "closure_reason": ""})
    assert refused.status_code == 422 and 'id="f-closure-reason-error-1"' in refused.text
    assert fresh(case).termination is None
    saved = client.post(f"/cases/{case.id}/termination", data={
        "expected_version": case.version, "outcome": "closed_unresolved", "closure_reason": "moved",
        "reason_details": "Pindah ke Jayapura"})
    assert saved.status_code == 303
    assert fresh(case).termination.closure_reason == "moved"


def test_step_defaults_to_now_in_the_facilitators_zone_and_is_stored_in_utc(signed_in, team, make):
    from caseflow.database import simulated_time

    with simulated_time(datetime(2026, 2, 20, tzinfo=UTC)):  # a step is not long before its case
        case = make.case(team.facilitator, to="intervention")
    client = signed_in(team.facilitator)
    form = client.get(f"/cases/{case.id}/steps/new")
    assert form.status_code == 200 and "(WIT)" in form.text
    shown = re.search(r'name="occurred_at" type="datetime-local" value="([^"]+)"', form.text).group(1)
    wit_now = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Jayapura"))
    assert shown[:13] == wit_now.strftime("%Y-%m-%dT%H")
    logged = client.post(f"/cases/{case.id}/steps/new", data={
        "expected_version": case.version, "step_type": "counselling", "occurred_at": "2026-03-02T10:00",
        "location": "Wamena", "notes": "Konseling keluarga", "goal_id": ""})
    assert logged.status_code == 303
    sync()
    step = db.session.execute(select(Step).where(Step.notes == "Konseling keluarga")).scalar_one()
    assert step.occurred_at.replace(tzinfo=UTC) == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    page = client.get(f"/cases/{case.id}")
    assert "Konseling · 2 Mar 2026 10.00 WIT" in page.text or "Konseling · 2 Mar 2026 10:00 WIT" in page.text


def test_step_with_bad_input_names_the_fields_and_saves_nothing(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    before = count(Step)
    response = signed_in(team.facilitator).post(f"/cases/{case.id}/steps/new", data={
        "expected_version": case.version, "step_type": "party", "occurred_at": "2099-01-01T10:00",
        "notes": ""})
    assert response.status_code == 422
    for field in ("step-type", "notes"):
        assert f'id="f-{field}-error-1"' in response.text
    assert count(Step) == before
    future = signed_in(team.facilitator).post(f"/cases/{case.id}/steps/new", data={
        "expected_version": case.version, "step_type": "home_visit", "occurred_at": "2099-01-01T10:00",
        "notes": "x"})
    assert future.status_code == 422 and 'id="f-occurred-at-error-1"' in future.text
    assert count(Step) == before


def test_reason_is_required_where_the_transition_asks_for_one(signed_in, team, make):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    client = signed_in(team.supervisor)
    page = client.get(f"/cases/{case.id}")
    assert 'id="reason-reopen"' in page.text
    refused = client.post(f"/cases/{case.id}/actions/reopen", data={"expected_version": case.version, "reason": ""})
    assert refused.status_code == 422 and 'id="f-reason-error-1"' in refused.text
    assert fresh(case).state == "resolved"
    reopened = client.post(f"/cases/{case.id}/actions/reopen",
                           data={"expected_version": case.version, "reason": "Klien kembali"})
    assert reopened.status_code == 303 and fresh(case).state == "assessment"


# --- who sees what -------------------------------------------------------------------


def test_supervisor_sees_the_case_read_only_with_only_their_actions(signed_in, team, make):
    case = make.case(team.facilitator, to="evaluation")
    case_services.save_evaluation(Actor(user=team.facilitator), case.id, {
        "ratings": [{"goal_id": g.id, "rating": "not_achieved"} for g in fresh(case).plan.goals]})
    page = signed_in(team.supervisor).get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert "hanya pendampingnya yang mengubah catatannya" in page.text
    assert "/assessment\"" not in page.text and "/evaluation\"" not in page.text
    assert "steps/new" not in page.text
    assert "/actions/revise_plan" in page.text and "/actions/request_termination" not in page.text


def test_auditor_reads_but_cannot_change(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    client = signed_in(team.auditor)
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200 and "/actions/" not in page.text and "<textarea" not in page.text
    refused = client.post(f"/cases/{case.id}/assessment", data={**COMPLETE_ASSESSMENT, "expected_version": case.version})
    assert refused.status_code == 403
    assert client.get(f"/cases/{case.id}/steps/new").status_code == 403
    assert fresh(case).assessment is None
    assert len(events("case.viewed", case.id)) == 1


@pytest.mark.parametrize("who", ["facilitator2", "other_supervisor", "province_auditor", "manager", "admin"])
def test_someone_elses_case_is_not_found_and_the_attempt_is_recorded(signed_in, team, make, who):
    case = make.case(team.facilitator, to="planning")
    client = signed_in(getattr(team, who))
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 404 and "Kasus tidak ditemukan." in page.text
    posted = client.post(f"/cases/{case.id}/plan", data={"summary": "x", **{
        f"goals-0-{k}": v for k, v in complete_plan()["goals"][0].items()}})
    assert posted.status_code in (403, 404)
    assert fresh(case).plan is None
    denied = events("access.denied")
    assert len(denied) == 2 and all(e.actor_id == getattr(team, who).id for e in denied)
    assert denied[0].context["case_id"] == case.id
    assert events("case.viewed", case.id) == []


def test_unknown_case_is_a_404_page(signed_in, team):
    response = signed_in(team.facilitator).get("/cases/987654")
    assert response.status_code == 404
    assert "Galat 404" in response.text and "Kasus tidak ditemukan." in response.text


def test_supervisor_registers_a_client_and_opens_a_case_for_a_team_member(signed_in, team):
    client = signed_in(team.supervisor)
    registered = client.post("/clients/new", data=CLIENT)
    assert registered.status_code == 303
    form = client.get(registered.headers["Location"])
    assert team.facilitator.full_name in form.text and team.other_facilitator.full_name not in form.text
    refused = client.post(registered.headers["Location"], data={"ppks_category_code": "P02"})
    assert refused.status_code == 422 and 'id="f-facilitator-id-error-1"' in refused.text
    opened = client.post(registered.headers["Location"], data={
        "ppks_category_code": "P02", "facilitator_id": team.facilitator2.id})
    assert opened.status_code == 303
    sync()
    assert db.session.execute(select(Case)).scalar_one().facilitator_id == team.facilitator2.id


def test_the_case_page_ends_the_read_of_its_side_lists_with_a_commit(signed_in, team, make):
    """The side lists are read after the case's transaction; a ROLLBACK at the request's
    end would make psycopg forget the worker's prepared statements (database.end_read)."""
    from sqlalchemy import event

    from caseflow.database import utcnow
    from caseflow.services.agenda import plan_visit

    case = make.case(team.facilitator, to="intervention")
    plan_visit(Actor(user=team.facilitator), case.id, {"step_type": "home_visit", "planned_at": (
        utcnow().replace(microsecond=0) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")})
    client = signed_in(team.facilitator)
    assert client.get(f"/cases/{case.id}").status_code == 200
    ended = []
    listeners = [("commit", lambda _c: ended.append("commit")), ("rollback", lambda _c: ended.append("rollback"))]
    for name, listener in listeners:
        event.listen(db.engine, name, listener)
    try:
        page = client.get(f"/cases/{case.id}")
    finally:
        for name, listener in listeners:
            event.remove(db.engine, name, listener)
    assert page.status_code == 200 and 'id="visits"' in page.get_data(as_text=True)
    # The case's read with its record, then the side lists' read (SQLite also commits the
    # user's read before its write): no rollback.
    assert ended[-2:] == ["commit", "commit"] and "rollback" not in ended


def test_the_case_page_names_who_asked_and_who_rejected(signed_in, team, make):
    """The sign-offs are read as values with their users' names (case_shown.sign_offs_shown)."""
    case = make.case(team.facilitator, to="termination_review")
    client = signed_in(team.facilitator)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f"oleh {team.facilitator.full_name})" in page  # waiting: who asked
    db.session.refresh(case)
    pending = case.pending_sign_off
    detail = client.get(f"/api/v1/cases/{case.id}").get_json()["pending_sign_off"]
    assert detail["id"] == pending.id and detail["requested_by_id"] == team.facilitator.id
    assert detail["requested_trigger"] == pending.requested_trigger and detail["decision"] is None
    case_services.decide_sign_off(Actor(user=team.supervisor), pending.id, {"decision": "reject", "reason": "Belum"})
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f"{team.supervisor.full_name} menolak pengajuan" in page and "<blockquote>Belum</blockquote>" in page
    assert client.get(f"/api/v1/cases/{case.id}").get_json()["pending_sign_off"] is None
