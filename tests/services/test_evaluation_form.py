"""The evaluation stage: one form, one action, a summary computed from what was entered,
and a request to close as resolved with goals only partly achieved flagged to the
supervisor."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow.errors import ValidationError
from caseflow.extensions import db
from caseflow.models import Case
from caseflow.services import evaluation
from caseflow.services.context import Actor
from caseflow.services.runtime import engine


def act(user) -> Actor:
    return Actor(user=user)


def flagged_in_sql(case) -> bool:
    """evaluation.resolution_flagged, the rule as a list reads it in one statement."""
    return db.session.execute(select(evaluation.resolution_flagged()).where(Case.id == case.id)).scalar_one()


@pytest.fixture
def case(team, make):
    return make.case(team.facilitator, to="evaluation")


def rated(case, rating):
    return [{"goal_id": g.id, "rating": rating} for g in case.plan.goals if not g.archived]


def test_nothing_rated_is_not_everything_achieved(case):
    summary = evaluation.summary_of(case)
    assert summary.goals == 1 and summary.unrated == 1 and not summary.all_achieved
    assert str(summary.sentence) == "No goal is rated yet."
    missing = engine(case.workflow).missing_for(case, "revise_plan")
    assert "No goal is rated yet." in [str(m) for m in missing]
    assert not any("achieved" in str(m) for m in missing)
    goal = case.plan.goals[0].id
    assert evaluation.summary_of(case, {goal: "partly_achieved"}).partly == 1


def test_asking_to_end_the_case_needs_every_goal_rated_and_writes_nothing_otherwise(team, case):
    with pytest.raises(ValidationError) as refused:
        evaluation.submit_evaluation(act(team.facilitator), case.id, {
            "summary": "Belum", "ratings": [], "next": "request_termination", "outcome": "resolved",
            "aftercare_plan": "Kunjungan"})
    assert f"goals.{case.plan.goals[0].id}" in refused.value.fields
    db.session.refresh(case)
    assert case.state == "evaluation" and case.evaluation is None and case.termination is None


def test_a_refused_termination_request_keeps_nothing(team, case):
    with pytest.raises(ValidationError) as refused:
        evaluation.submit_evaluation(act(team.facilitator), case.id, {
            "ratings": rated(case, "achieved"), "next": "request_termination", "outcome": "resolved"})
    assert "aftercare_plan" in refused.value.fields
    db.session.refresh(case)
    assert case.evaluation is None and case.state == "evaluation"


def test_one_action_saves_and_asks_and_a_partial_resolution_is_flagged(team, case):
    evaluation.submit_evaluation(act(team.facilitator), case.id, {
        "summary": "Sebagian", "ratings": rated(case, "partly_achieved"), "next": "request_termination",
        "outcome": "resolved", "aftercare_plan": "Kunjungan bulanan"}, expected_version=case.version)
    db.session.refresh(case)
    assert case.state == "termination_review" and case.pending_sign_off is not None
    assert evaluation.resolution_flags(case) == [("Kembali sekolah", "partly_achieved")]
    assert flagged_in_sql(case)
    case.plan.goals[0].archived = True  # a goal no longer in the plan asks nothing
    db.session.flush()
    assert evaluation.resolution_flags(case) == [] and not flagged_in_sql(case)
    case.plan.goals[0].archived = False
    case.termination.outcome = "closed_unresolved"  # only a resolution is flagged
    db.session.flush()
    assert evaluation.resolution_flags(case) == [] and not flagged_in_sql(case)


def test_goals_not_met_plan_again_in_one_action(team, case):
    evaluation.submit_evaluation(act(team.facilitator), case.id, {
        "ratings": rated(case, "not_achieved"), "next": "revise_plan"})
    db.session.refresh(case)
    assert case.state == "planning"


def test_a_full_resolution_is_not_flagged(team, case):
    evaluation.submit_evaluation(act(team.facilitator), case.id, {
        "ratings": rated(case, "achieved"), "next": "request_termination", "outcome": "resolved",
        "aftercare_plan": "Kunjungan"})
    db.session.refresh(case)
    assert evaluation.resolution_flags(case) == []
    assert not flagged_in_sql(case)


def test_only_the_facilitator_submits_and_an_unknown_choice_is_named(team, case):
    with pytest.raises(ValidationError) as refused:
        evaluation.submit_evaluation(act(team.facilitator), case.id, {"next": "celebrate"})
    assert "next" in refused.value.fields
    with pytest.raises(Exception) as other:
        evaluation.submit_evaluation(act(team.facilitator2), case.id, {"ratings": rated(case, "achieved")})
    assert other.value.status == 404


def test_the_case_page_has_one_evaluation_form_with_one_button(team, case, signed_in):
    browser = signed_in(team.facilitator)
    page = browser.get(f"/cases/{case.id}").get_data(as_text=True)
    stage = page[page.index('id="stage-form"'):]
    stage = stage[:stage.index("</section>")]
    assert len(re.findall(r'type="submit"', stage)) == 1
    assert "/actions/request_termination" not in page and "/actions/revise_plan" not in page
    assert "Belum ada tujuan yang dinilai." in stage and "tercapai semua" not in stage.lower()
    goal = case.plan.goals[0].id
    answer = browser.post(f"/cases/{case.id}/evaluation/submit", data={
        "expected_version": case.version, f"ratings-{goal}-goal": "1", "next": "request_termination",
        "outcome": "resolved"})
    assert answer.status_code == 422 and f'href="#f-ratings-{goal}-rating' in answer.get_data(as_text=True)
    answer = browser.post(f"/cases/{case.id}/evaluation/submit", data={
        "expected_version": case.version, f"ratings-{goal}-goal": "1", f"ratings-{goal}-rating": "partly_achieved",
        "next": "request_termination", "outcome": "resolved", "aftercare_plan": "Kunjungan"})
    assert answer.status_code == 303
    db.session.rollback()  # a fresh read after the requests
    queue = signed_in(team.supervisor).get("/team/sign-offs").get_data(as_text=True)
    assert "Tujuan belum semua tercapai" in queue
    request_page = signed_in(team.supervisor).get(f"/team/sign-offs/{case.pending_sign_off.id}").get_data(as_text=True)
    assert 'id="resolution-flag"' in request_page
