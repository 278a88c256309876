"""Every id a request carries (a client, a goal, a facilitator, a sign-off, a delegation)
is checked in the service against the actor's rights: what they may not see looks like
what does not exist, and nothing is changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow.errors import NotAllowed, NotFound, ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent, Case, Client
from caseflow.services import access, cases
from caseflow.services import sign_off_policy as policy
from caseflow.services.context import Actor
from tests.support.factories import a_step, complete_plan, rate_all, today_for

NO_SUCH_ID = 10**6


def act(user) -> Actor:
    return Actor(user=user)


def _case_count() -> int:
    return db.session.execute(select(func.count()).select_from(Case)).scalar_one()


def _refusal(error: ValidationError) -> tuple[str, dict]:
    return str(error.message), {k: [str(m) for m in v] for k, v in error.fields.items()}


# --- opening a case for a client -------------------------------------------------------------


@pytest.mark.parametrize("owner", ["other_team", "other_facilitator"])
def test_a_facilitator_cannot_open_a_case_for_a_client_they_may_not_see(team, make, owner):
    """Another team's client (same province, or another province) answers exactly like an
    unknown id, and no case is opened, so the client's data stays out of reach."""
    owner = (make.user("facilitator", province="91", supervisor=make.user("supervisor", province="91"))
             if owner == "other_team" else getattr(team, owner))
    theirs = make.client(owner, province=owner.province_code)
    before = _case_count()
    with pytest.raises(ValidationError) as refused:
        cases.open_case(act(team.facilitator), {"client_id": theirs.id, "ppks_category_code": "P02"})
    with pytest.raises(ValidationError) as unknown:
        cases.open_case(act(team.facilitator), {"client_id": NO_SUCH_ID, "ppks_category_code": "P02"})
    assert _refusal(refused.value) == _refusal(unknown.value)
    assert "client_id" in refused.value.fields
    assert _case_count() == before
    assert not access.can_see_client(team.facilitator, db.session.get(Client, theirs.id))


def test_a_supervisor_cannot_open_a_case_for_another_teams_client(team, make):
    theirs = make.client(team.other_facilitator, province="53")
    with pytest.raises(ValidationError) as refused:
        cases.open_case(act(team.supervisor), {"client_id": theirs.id, "ppks_category_code": "P02",
                                               "facilitator_id": team.facilitator.id})
    assert "client_id" in refused.value.fields
    assert _case_count() == 0


def test_a_refused_client_is_recorded_on_the_actors_chain(team, make):
    theirs = make.client(team.other_facilitator, province="53")
    with pytest.raises(ValidationError):
        cases.open_case(act(team.facilitator), {"client_id": theirs.id, "ppks_category_code": "P02"})
    denied = db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "access.denied", AuditEvent.actor_id == team.facilitator.id)).scalars().all()
    assert len(denied) == 1 and denied[0].chain == f"user:{team.facilitator.id}"
    assert denied[0].context["what"] == "open case: client"


def test_a_supervisor_opens_a_case_for_a_client_their_team_registered(team, make):
    """A client registered by a facilitator of the team, with no case yet, is the team's."""
    registered = make.client(team.facilitator2)
    case = cases.open_case(act(team.supervisor), {"client_id": registered.id, "ppks_category_code": "P02",
                                                  "facilitator_id": team.facilitator.id})
    assert case.client_id == registered.id
    assert access.can_see_client(team.facilitator, registered)  # through the new case


def test_a_returning_client_gets_a_new_case_from_whoever_may_see_them(team, make):
    first = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    again = cases.open_case(act(team.facilitator), {"client_id": first.client_id, "ppks_category_code": "P02"})
    assert again.client_id == first.client_id and again.id != first.id


def test_visible_clients_and_can_see_client_agree(team, make):
    """One rule in two forms: a filter for lists and searches, a check for one client."""
    make.case(team.facilitator)
    make.case(team.facilitator2)
    make.case(team.other_facilitator)
    make.client(team.facilitator)
    make.client(team.supervisor)
    make.client(team.other_supervisor, province="53")
    everyone = db.session.execute(select(Client)).scalars().all()
    for user in (team.facilitator, team.facilitator2, team.supervisor, team.other_supervisor,
                 team.other_facilitator, team.auditor, team.province_auditor, team.manager, team.admin):
        listed = set(db.session.execute(access.visible_clients(user, select(Client.id))).scalars())
        assert listed == {c.id for c in everyone if access.can_see_client(user, c)}, user.username
    assert len(set(db.session.execute(access.visible_clients(team.supervisor, select(Client.id))).scalars())) == 4
    assert set(db.session.execute(access.visible_clients(team.manager, select(Client.id))).scalars()) == set()


# --- reassigning: the target is a facilitator of the case's own team ---------------------------


def test_an_acting_supervisor_reassigns_only_within_the_team_they_act_for(team, make):
    """Standing in for a supervisor gives that team's cases, not a way to move them into
    the acting supervisor's own team."""
    own = make.user("facilitator", province="53", supervisor=team.other_supervisor)
    policy.delegate_supervisor(act(team.supervisor), {
        "acting_id": team.other_supervisor.id, "starts_on": today_for(team.other_supervisor) - timedelta(days=1),
        "ends_on": today_for(team.other_supervisor) + timedelta(days=5), "reason": "cuti"})
    case = make.case(team.facilitator)
    with pytest.raises(ValidationError) as refused:
        cases.reassign_case(act(team.other_supervisor), case.id, {"facilitator_id": own.id, "reason": "x"})
    assert "facilitator_id" in refused.value.fields
    db.session.refresh(case)
    assert case.facilitator_id == team.facilitator.id
    moved = cases.reassign_case(act(team.other_supervisor), case.id,
                                {"facilitator_id": team.facilitator2.id, "reason": "cuti"})
    assert moved.facilitator_id == team.facilitator2.id


@pytest.mark.parametrize("target", ["other_facilitator", "supervisor", "auditor"])
def test_a_reassignment_target_outside_the_team_is_named_before_the_version(team, make, target):
    """The id's check comes with the permission check: a stale version does not hide it."""
    case = make.case(team.facilitator)
    with pytest.raises(ValidationError) as refused:
        cases.reassign_case(act(team.supervisor), case.id,
                            {"facilitator_id": getattr(team, target).id, "reason": "x"}, expected_version=99)
    assert "facilitator_id" in refused.value.fields


# --- goals: those of this case's plan, and still in it ------------------------------------------


def test_a_step_cannot_serve_a_goal_of_another_case(team, make):
    mine = make.case(team.facilitator, to="intervention")
    theirs = make.case(team.facilitator2, to="intervention")
    with pytest.raises(ValidationError) as refused:
        cases.log_step(act(team.facilitator), mine.id, a_step(goal_id=theirs.plan.goals[0].id))
    assert "goal_id" in refused.value.fields


def test_a_step_cannot_serve_a_goal_removed_from_the_plan(team, make):
    case = make.case(team.facilitator, to="intervention")
    removed = case.plan.goals[0].id
    plan = complete_plan()
    plan["goals"][0]["description"] = "Tujuan baru"
    case = _replan(team, case, plan)
    assert any(g.id == removed and g.archived for g in case.plan.goals)
    with pytest.raises(ValidationError) as refused:
        cases.log_step(act(team.facilitator), case.id, a_step(goal_id=removed))
    assert "goal_id" in refused.value.fields
    step = cases.log_step(act(team.facilitator), case.id,
                          a_step(goal_id=next(g.id for g in case.plan.goals if not g.archived)))
    assert step.goal_id != removed


def _replan(team, case, plan):
    """Back to planning (goals not met) and a new plan whose goals are all new."""
    me = act(team.facilitator)
    cases.log_step(me, case.id, a_step())
    cases.fire_trigger(me, case.id, "start_evaluation")
    cases.save_evaluation(me, case.id, rate_all(case, "not_achieved"))
    cases.fire_trigger(me, case.id, "revise_plan")
    cases.save_plan(me, case.id, plan)
    cases.fire_trigger(me, case.id, "start_intervention")
    db.session.refresh(case)
    return case


def test_evaluation_and_plan_cannot_name_goals_of_another_case(team, make):
    mine = make.case(team.facilitator, to="evaluation")
    theirs = make.case(team.facilitator2, to="intervention")
    other_goal = theirs.plan.goals[0].id
    with pytest.raises(ValidationError) as refused:
        cases.save_evaluation(act(team.facilitator), mine.id,
                              {"ratings": [{"goal_id": other_goal, "rating": "achieved"}]})
    assert "ratings.0.goal_id" in refused.value.fields
    planning = make.case(team.facilitator, to="planning")
    with pytest.raises(ValidationError):
        cases.save_plan(act(team.facilitator), planning.id, {"summary": "x", "goals": [
            {"id": other_goal, "description": "Diambil", "target_date": "2027-01-31"}]})
    db.session.refresh(theirs)
    assert theirs.plan.goals[0].description == "Kembali sekolah"


# --- sign-offs and delegations: someone else's looks like nothing --------------------------------


def test_another_teams_sign_off_looks_like_an_unknown_one(team, make):
    theirs = make.case(team.other_facilitator, to="termination_review")
    with pytest.raises(NotFound) as refused:
        cases.decide_sign_off(act(team.supervisor), theirs.pending_sign_off.id, {"decision": "approve"})
    with pytest.raises(NotFound) as unknown:
        cases.decide_sign_off(act(team.supervisor), NO_SUCH_ID, {"decision": "approve"})
    assert str(refused.value.message) == str(unknown.value.message)
    db.session.refresh(theirs)
    assert theirs.state == "termination_review"


def test_someone_elses_delegation_looks_like_an_unknown_one(team, make):
    delegation = policy.delegate_supervisor(act(team.supervisor), {
        "acting_id": team.other_supervisor.id, "starts_on": today_for(team.supervisor),
        "ends_on": today_for(team.supervisor) + timedelta(days=3), "reason": "cuti"})
    stranger = make.user("supervisor", province="91")
    with pytest.raises(NotFound) as refused:
        policy.revoke_delegation(act(stranger), delegation.id)
    with pytest.raises(NotFound) as unknown:
        policy.revoke_delegation(act(stranger), NO_SUCH_ID)
    assert str(refused.value.message) == str(unknown.value.message)
    # The acting supervisor knows of it, and is told why they may not end it.
    with pytest.raises(NotAllowed):
        policy.revoke_delegation(act(team.other_supervisor), delegation.id)
