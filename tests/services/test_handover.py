"""A facilitator's contract ends: a supervisor (own team) or an administrator hands all
or some of their cases in work to one or several others in one audited action, with a
preview; the receivers are told; each case keeps its history; then the account can be
deactivated. Every id in the request is checked in the service."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.errors import NotAllowed, NotFound, ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent, Case, Notification
from caseflow.services import handover, notifications
from caseflow.services.context import Actor
from caseflow.services.users import set_active


def act(user) -> Actor:
    return Actor(user=user)


def events(case_id: int, action: str) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.action == action)).scalars())


@pytest.fixture
def leaving(team, make):
    """Three cases in work of `fac` (one in aftercare), one closed unresolved."""
    cases = [make.case(team.facilitator, to="assessment"), make.case(team.facilitator, to="evaluation"),
             make.case(team.facilitator, to="resolved", supervisor=team.supervisor)]
    closed = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
    return cases, closed


def plan_all(actor_user, team, receivers):
    return handover.plan_handover(act(actor_user), team.facilitator.id,
                                  {"receiver_ids": [r.id for r in receivers]})


def confirm(actor_user, team, plan, reason="Kontrak berakhir"):
    return handover.hand_over(act(actor_user), team.facilitator.id, {
        "assignments": [{"case_id": a.case.id, "facilitator_id": a.receiver.id} for a in plan],
        "reason": reason})


def test_the_supervisor_hands_every_case_in_work_over_and_then_deactivation_works(team, make, leaving):
    cases, closed = leaving
    with pytest.raises(ValidationError):
        set_active(act(team.admin), team.facilitator.id, False)
    source, plan = plan_all(team.supervisor, team, [team.facilitator2])
    assert source.id == team.facilitator.id
    assert sorted(a.case.id for a in plan) == sorted(c.id for c in cases)  # the aftercare case too
    assert db.session.get(Case, cases[0].id).facilitator_id == team.facilitator.id  # a preview changes nothing
    done = confirm(team.supervisor, team, plan)
    assert len(done) == 3
    for case in cases:
        moved = db.session.get(Case, case.id)
        assert moved.facilitator_id == team.facilitator2.id
        [event] = events(case.id, "case.reassigned")
        assert event.before["facilitator_id"] == team.facilitator.id and event.context["handover_from"] == team.facilitator.id
        assert events(case.id, "case.opened")  # the history stays with the case
    assert db.session.get(Case, closed.id).facilitator_id == team.facilitator.id
    summary = db.session.execute(select(AuditEvent).where(AuditEvent.action == "cases.handed_over")).scalar_one()
    assert summary.chain.endswith(str(team.facilitator.id)) and len(summary.after["cases"]) == 3
    [notice] = db.session.execute(select(Notification).where(Notification.user_id == team.facilitator2.id)).scalars()
    assert notice.data["count"] == 3 and "Kontrak berakhir" in notifications.render(notice)
    set_active(act(team.admin), team.facilitator.id, False)
    assert not db.session.get(type(team.facilitator), team.facilitator.id).active


def test_several_receivers_share_the_cases_evenly(team, make, leaving):
    third = make.user("facilitator", province="91", supervisor=team.supervisor)
    make.case(team.facilitator2, to="assessment")  # fac2 already holds one
    _source, plan = plan_all(team.supervisor, team, [team.facilitator2, third])
    counts = {}
    for a in plan:
        counts[a.receiver.id] = counts.get(a.receiver.id, 0) + 1
    assert counts == {third.id: 2, team.facilitator2.id: 1}


def test_chosen_cases_only(team, leaving):
    cases, _closed = leaving
    _source, plan = handover.plan_handover(act(team.supervisor), team.facilitator.id, {
        "case_ids": [cases[1].id], "receiver_ids": [team.facilitator2.id]})
    assert [a.case.id for a in plan] == [cases[1].id]


def test_who_may_hand_over(team, leaving):
    with pytest.raises(NotFound):
        plan_all(team.other_supervisor, team, [team.facilitator2])
    with pytest.raises(NotAllowed):
        plan_all(team.facilitator2, team, [team.facilitator2])
    with pytest.raises(NotAllowed):
        plan_all(team.auditor, team, [team.facilitator2])
    _source, plan = plan_all(team.admin, team, [team.facilitator2])
    assert len(confirm(team.admin, team, plan)) == 3


def test_every_id_is_checked_and_nothing_is_half_done(team, make, leaving):
    cases, closed = leaving
    others = make.case(team.facilitator2, to="assessment")
    elsewhere = make.case(team.other_facilitator, to="assessment")
    for case_id in (others.id, elsewhere.id, closed.id, 10**9):
        with pytest.raises(ValidationError) as refused:
            handover.hand_over(act(team.supervisor), team.facilitator.id, {"reason": "x", "assignments": [
                {"case_id": cases[0].id, "facilitator_id": team.facilitator2.id},
                {"case_id": case_id, "facilitator_id": team.facilitator2.id}]})
        assert "assignments.1.case_id" in refused.value.fields
        assert db.session.get(Case, cases[0].id).facilitator_id == team.facilitator.id
    for receiver in (team.other_facilitator, team.supervisor, team.facilitator):
        with pytest.raises(ValidationError) as refused:
            handover.hand_over(act(team.supervisor), team.facilitator.id, {"reason": "x", "assignments": [
                {"case_id": cases[0].id, "facilitator_id": receiver.id}]})
        assert "assignments.0.facilitator_id" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        plan_all(team.supervisor, team, [team.other_facilitator])
    assert "receiver_ids" in refused.value.fields


def test_an_administrator_may_choose_a_receiver_of_another_team_in_the_province(team, make, leaving):
    cases, _closed = leaving
    other_lead = make.user("supervisor", province="91")
    neighbour = make.user("facilitator", province="91", supervisor=other_lead)
    with pytest.raises(ValidationError):
        handover.hand_over(act(team.supervisor), team.facilitator.id, {"reason": "x", "assignments": [
            {"case_id": cases[0].id, "facilitator_id": neighbour.id}]})
    handover.hand_over(act(team.admin), team.facilitator.id, {"reason": "x", "assignments": [
        {"case_id": cases[0].id, "facilitator_id": neighbour.id}]})
    assert db.session.get(Case, cases[0].id).facilitator_id == neighbour.id


def test_the_pages_preview_then_confirm(team, leaving, signed_in):
    cases, _closed = leaving
    browser = signed_in(team.supervisor)
    page = browser.get(f"/facilitators/{team.facilitator.id}/handover")
    assert page.status_code == 200 and cases[0].number in page.text and cases[0].client.full_name in page.text
    preview = browser.post(f"/facilitators/{team.facilitator.id}/handover", data={
        "step": "preview", "receiver_ids": [str(team.facilitator2.id)]})
    assert preview.status_code == 200 and 'name="step" value="confirm"' in preview.text
    assert db.session.get(Case, cases[0].id).facilitator_id == team.facilitator.id
    form = {f"assign-{c.id}": str(team.facilitator2.id) for c in cases} | {"step": "confirm", "reason": "Kontrak"}
    assert browser.post(f"/facilitators/{team.facilitator.id}/handover", data=form).status_code == 303
    db.session.rollback()
    assert db.session.get(Case, cases[0].id).facilitator_id == team.facilitator2.id
    admin_view = signed_in(team.admin).get(f"/facilitators/{team.facilitator2.id}/handover").text
    assert cases[0].number in admin_view and cases[0].client.full_name not in admin_view  # no client data
    assert signed_in(team.other_supervisor).get(f"/facilitators/{team.facilitator2.id}/handover").status_code == 404
