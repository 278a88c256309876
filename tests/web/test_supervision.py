"""The supervisor's pages: team overview, sign-off queue and decisions, reassignment,
overdue list — refused input named at its field with nothing saved."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from caseflow.database import simulated_time, utcnow
from caseflow.extensions import db
from caseflow.models import SignOff
from caseflow.services import evaluation
from caseflow.services.context import Actor
from tests.support.queries import events, fresh, reload


def test_supervisor_lands_on_the_team_overview(signed_in, team, make):
    make.case(team.facilitator, to="evaluation")
    make.case(team.facilitator2, to="resolved", supervisor=team.supervisor)
    make.case(team.other_facilitator, to="assessment")
    client = signed_in(team.supervisor)
    assert client.get("/").headers["Location"] == "/team"
    page = client.get("/team")
    assert page.status_code == 200
    assert team.facilitator.full_name in page.text and team.facilitator2.full_name in page.text
    assert team.other_facilitator.full_name not in page.text
    assert 'href="/team" aria-current="page"' in page.text
    # one open case (facilitator), one resolved this month (facilitator2)
    rows = page.text.split("<tbody>")[1]
    fac_row = rows.split(team.facilitator.full_name)[1].split("</tr>")[0]
    fac2_row = rows.split(team.facilitator2.full_name)[1].split("</tr>")[0]
    assert [c for c in fac_row.split('class="num">')[1:4]][0].startswith("1<")
    assert fac2_row.split('class="num">')[3].startswith("1<")


def test_sign_off_queue_is_oldest_first_and_only_the_team(signed_in, team, make):
    first = make.case(team.facilitator, to="termination_review")
    second = make.case(team.facilitator2, to="termination_review")
    elsewhere = make.case(team.other_facilitator, to="termination_review")
    page = signed_in(team.supervisor).get("/team/sign-offs")
    assert page.status_code == 200
    assert page.text.index(first.number) < page.text.index(second.number)
    assert elsewhere.number not in page.text


def test_sign_off_queue_flags_a_resolution_with_goals_not_all_achieved(signed_in, team, make):
    case = make.case(team.facilitator, to="evaluation")
    evaluation.submit_evaluation(Actor(user=team.facilitator), case.id, {
        "ratings": [{"goal_id": g.id, "rating": "partly_achieved"} for g in case.plan.goals],
        "next": "request_termination", "outcome": "resolved", "aftercare_plan": "Kunjungan bulanan"})
    achieved = make.case(team.facilitator2, to="termination_review")
    page = signed_in(team.supervisor).get("/team/sign-offs").text
    entries = page.split('<li class="case-item">')[1:]
    flagged = next(e for e in entries if case.number in e)
    assert "Tujuan belum semua tercapai" in flagged and "Hasil yang diusulkan: Terselesaikan" in flagged
    assert "Tujuan belum semua tercapai" not in next(e for e in entries if achieved.number in e)


def test_sign_off_page_shows_everything_and_records_the_view(signed_in, team, make):
    case = make.case(team.facilitator, to="termination_review")
    sign_off = case.pending_sign_off
    page = signed_in(team.supervisor).get(f"/team/sign-offs/{sign_off.id}")
    assert page.status_code == 200
    for text in ("Kembali sekolah", "Kunjungan rumah", "Kunjungan bulanan", "Anak tidak bersekolah",
                 case.number, f'name="expected_version" value="{case.version}"', f"/cases/{case.id}"):
        assert text in page.text
    assert len(events("case.viewed", case.id)) == 1


def test_supervisor_approves_a_termination(signed_in, team, make):
    case = make.case(team.facilitator, to="termination_review")
    sign_off_id = case.pending_sign_off.id
    client = signed_in(team.supervisor)
    response = client.post(f"/team/sign-offs/{sign_off_id}",
                           data={"decision": "approve", "expected_version": case.version})
    assert response.status_code == 303 and response.headers["Location"] == "/team/sign-offs"
    assert fresh(case).state == "resolved"
    queue = client.get("/team/sign-offs").text
    assert case.number in queue  # the confirmation names the case
    assert f'href="/team/sign-offs/{sign_off_id}"' not in queue


def test_rejection_without_reason_is_refused_at_the_field_and_nothing_changes(signed_in, team, make):
    case = make.case(team.facilitator, to="termination_review")
    sign_off_id = case.pending_sign_off.id
    client = signed_in(team.supervisor)
    refused = client.post(f"/team/sign-offs/{sign_off_id}",
                          data={"decision": "reject", "reason": "  ", "expected_version": case.version})
    assert refused.status_code == 422
    assert 'id="f-reason-error-1"' in refused.text
    assert fresh(case).state == "termination_review"
    assert db.session.get(SignOff, sign_off_id).decision is None
    rejected = client.post(f"/team/sign-offs/{sign_off_id}",
                           data={"decision": "reject", "reason": "Tujuan belum tercapai",
                                 "expected_version": case.version})
    assert rejected.status_code == 303
    assert fresh(case).state == "evaluation"
    assert db.session.get(SignOff, sign_off_id).reason == "Tujuan belum tercapai"


def test_missing_decision_is_named(signed_in, team, make):
    case = make.case(team.facilitator, to="termination_review")
    refused = signed_in(team.supervisor).post(f"/team/sign-offs/{case.pending_sign_off.id}",
                                              data={"expected_version": case.version})
    assert refused.status_code == 422 and 'id="f-decision-error-1"' in refused.text
    assert fresh(case).state == "termination_review"


def test_a_decision_on_a_changed_case_is_a_conflict(signed_in, team, make):
    case = make.case(team.facilitator, to="termination_review")
    client = signed_in(team.supervisor)
    response = client.post(f"/team/sign-offs/{case.pending_sign_off.id}",
                           data={"decision": "approve", "expected_version": case.version - 1},
                           headers={"Referer": f"/team/sign-offs/{case.pending_sign_off.id}"})
    assert response.status_code == 303
    assert fresh(case).state == "termination_review"


def test_another_teams_sign_off_is_not_found_and_recorded(signed_in, team, make):
    case = make.case(team.other_facilitator, to="termination_review")
    client = signed_in(team.supervisor)
    assert client.get(f"/team/sign-offs/{case.pending_sign_off.id}").status_code == 404
    assert client.post(f"/team/sign-offs/{case.pending_sign_off.id}",
                       data={"decision": "approve"}).status_code == 404
    assert fresh(case).state == "termination_review"
    denied = events("access.denied")
    assert len(denied) == 2 and denied[0].context["case_id"] == case.id
    assert events("case.viewed", case.id) == []


def test_reassign_within_the_team(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    client = signed_in(team.supervisor)
    form = client.get(f"/team/cases/{case.id}/reassign")
    assert form.status_code == 200
    assert team.facilitator2.full_name in form.text and team.other_facilitator.full_name not in form.text
    refused = client.post(f"/team/cases/{case.id}/reassign",
                          data={"facilitator_id": team.facilitator2.id, "reason": "",
                                "expected_version": case.version})
    assert refused.status_code == 422 and 'id="f-reason-error-1"' in refused.text
    assert fresh(case).facilitator_id == team.facilitator.id
    outsider = client.post(f"/team/cases/{case.id}/reassign",
                           data={"facilitator_id": team.other_facilitator.id, "reason": "Cuti",
                                 "expected_version": case.version})
    assert outsider.status_code == 422 and 'id="f-facilitator-id-error-1"' in outsider.text
    assert fresh(case).facilitator_id == team.facilitator.id
    done = client.post(f"/team/cases/{case.id}/reassign",
                       data={"facilitator_id": team.facilitator2.id, "reason": "Cuti melahirkan",
                             "expected_version": case.version})
    assert done.status_code == 303
    assert fresh(case).facilitator_id == team.facilitator2.id
    [event] = events("case.reassigned", case.id)
    assert event.context["reason"] == "Cuti melahirkan"


def test_overdue_lists_the_teams_late_cases_only(app, signed_in, team, make):
    with simulated_time(utcnow() - timedelta(days=30)):
        late = make.case(team.facilitator, to="assessment")
        elsewhere = make.case(team.other_facilitator, to="assessment")
    on_time = make.case(team.facilitator2, to="assessment")
    page = signed_in(team.supervisor).get("/team/overdue")
    assert page.status_code == 200
    assert late.number in page.text
    assert on_time.number not in page.text and elsewhere.number not in page.text
    assert f"/team/cases/{late.id}/reassign" in page.text


def _team_table(page: str) -> dict[str, tuple[int, int, int]]:
    """{facilitator's name: (open, overdue, resolved this month)} as the team page shows them."""
    rows = {}
    for row in page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]:
        name = row.split('<th scope="row">')[1].split(" <span")[0]
        cells = [re.sub(r"<[^>]+>", "", cell.split("</td>")[0]).strip() for cell in row.split('class="num">')[1:4]]
        rows[name] = tuple(int(cell) for cell in cells)
    return rows


def test_team_page_figures_are_the_viewers_figures(signed_in, team, make):
    """The team's table counts what the figures count in the supervisor's scope (open
    cases, cases overdue against the facilitator, resolved since the first of the month),
    while the supervisor also acts for another team whose cases stay out of the rows."""
    from caseflow.reports import figures
    from caseflow.services import deadlines
    from caseflow.services.sign_off_policy import delegate_supervisor

    with simulated_time(utcnow() - timedelta(days=70)):
        make.case(team.facilitator, to="resolved", supervisor=team.supervisor)  # resolved months ago
        make.case(team.facilitator, to="assessment")  # long overdue
        make.case(team.facilitator2, to="termination_review")  # waiting: the supervisor's to act on
    make.case(team.facilitator, to="evaluation")
    make.case(team.facilitator2, to="resolved", supervisor=team.supervisor)
    make.case(team.facilitator2, to="planning")
    make.case(team.other_facilitator, to="assessment")
    today = utcnow().date()
    delegate_supervisor(Actor(user=team.other_supervisor), {
        "acting_id": team.supervisor.id, "starts_on": str(today - timedelta(days=1)),
        "ends_on": str(today + timedelta(days=7)), "reason": "Cuti"})
    client = signed_in(team.supervisor)
    page = client.get("/team")
    viewer = reload(team.supervisor)
    month_start = utcnow().astimezone(ZoneInfo(viewer.timezone)).date().replace(day=1)
    open_by = figures.tally("in_progress", figures.Filters(), viewer, by="facilitator")
    overdue_by = deadlines.overdue_counts_by_facilitator(viewer)
    resolved_by = figures.tally("resolved", figures.Filters(start=month_start), viewer, by="facilitator")
    assert open_by[team.other_facilitator.id] == 1  # the acting supervisor's scope holds the other team
    expected = {member.full_name: (open_by.get(member.id, 0), overdue_by.get(member.id, 0),
                                   resolved_by.get(member.id, 0)) for member in (team.facilitator, team.facilitator2)}
    assert _team_table(page.text) == expected
    assert expected == {team.facilitator.full_name: (2, 1, 0), team.facilitator2.full_name: (2, 0, 1)}
