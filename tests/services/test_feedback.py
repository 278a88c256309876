"""The supervisor's word reaches the facilitator: a rejected termination request is
told (notification with an unread count), stands on the case page and the case list
until the next request, and the next request shows the earlier rejections with what
changed since."""

from __future__ import annotations

import pytest

from caseflow.extensions import db
from caseflow.models import Notification
from caseflow.services import cases, feedback, notifications
from caseflow.services.context import Actor
from tests.support.factories import a_step, rate_all


def act(user) -> Actor:
    return Actor(user=user)


REASON = "Tujuan 1 belum terbukti: kunjungi sekolah dulu"


def reject(supervisor, case, reason: str = REASON):
    db.session.refresh(case)
    return cases.decide_sign_off(act(supervisor), case.pending_sign_off.id, {"decision": "reject", "reason": reason})


@pytest.fixture
def waiting(team, make):
    return make.case(team.facilitator, to="termination_review")


def test_a_rejection_is_told_to_the_facilitator_with_its_reason(team, waiting):
    assert notifications.unread_count(team.facilitator) == 0
    reject(team.supervisor, waiting)
    [notice] = db.session.query(Notification).filter_by(user_id=team.facilitator.id).all()
    assert notice.kind == "termination.rejected" and notice.case_id == waiting.id
    assert notice.data["reason"] == REASON and notice.data["by"] == team.supervisor.full_name
    assert notifications.unread_count(team.facilitator) == 1
    assert notifications.unread_count(team.facilitator2) == 0
    assert REASON in notifications.render(notice)


def test_an_approval_sends_no_rejection_notice(team, waiting):
    db.session.refresh(waiting)
    cases.decide_sign_off(act(team.supervisor), waiting.pending_sign_off.id, {"decision": "approve"})
    assert notifications.unread_count(team.facilitator) == 0


def test_the_rejection_stands_until_the_next_request(team, waiting):
    assert feedback.standing_rejection(waiting) is None
    rejected = reject(team.supervisor, waiting)
    db.session.refresh(waiting)
    assert feedback.standing_rejection(waiting).id == rejected.id
    assert feedback.standing_rejections([waiting.id]) == {waiting.id: rejected}
    cases.fire_trigger(act(team.facilitator), waiting.id, "request_termination")
    db.session.refresh(waiting)
    assert feedback.standing_rejection(waiting) is None
    assert feedback.standing_rejections([waiting.id]) == {}


def test_a_new_request_shows_the_earlier_rejections_and_what_changed(team, waiting):
    first = reject(team.supervisor, waiting)
    me = act(team.facilitator)
    cases.save_evaluation(me, waiting.id, rate_all(waiting, "partly_achieved"))
    cases.log_step(me, waiting.id, a_step(notes="Kunjungan ke sekolah"))
    cases.fire_trigger(me, waiting.id, "request_termination")
    db.session.refresh(waiting)
    second = waiting.pending_sign_off
    [earlier] = feedback.earlier_rejections(second)
    assert earlier.sign_off.id == first.id and earlier.sign_off.reason == REASON
    changes = earlier.changes
    assert changes.ratings == [{"goal": "Kembali sekolah", "before": "achieved", "after": "partly_achieved"}]
    assert [s.notes for s in changes.steps] == ["Kunjungan ke sekolah"]
    assert not changes.nothing
    # A third request after a second rejection with nothing done: both rejections, the last one empty.
    reject(team.supervisor, waiting, "Masih sama")
    cases.fire_trigger(me, waiting.id, "request_termination")
    db.session.refresh(waiting)
    history = feedback.earlier_rejections(waiting.pending_sign_off)
    assert [h.sign_off.reason for h in history] == [REASON, "Masih sama"]
    assert history[1].changes.nothing


def test_the_facilitator_sees_the_reason_on_the_case_page_the_list_and_the_menu(team, waiting, signed_in):
    reject(team.supervisor, waiting)
    browser = signed_in(team.facilitator)
    page = browser.get(f"/cases/{waiting.id}").get_data(as_text=True)
    assert "Pengajuan terminasi ditolak" in page and REASON in page
    listing = browser.get("/cases").get_data(as_text=True)
    assert "Terminasi ditolak" in listing and REASON[:40] in listing
    assert 'class="nav-count">1' in listing
    notes = browser.get("/notifications").get_data(as_text=True)
    assert REASON in notes
    browser.post("/notifications", data={"csrf_token": ""})
    assert notifications.unread_count(team.facilitator) == 0


def test_the_supervisor_sees_the_history_on_the_new_request(team, waiting, signed_in):
    reject(team.supervisor, waiting)
    cases.fire_trigger(act(team.facilitator), waiting.id, "request_termination")
    db.session.refresh(waiting)
    page = signed_in(team.supervisor).get(f"/team/sign-offs/{waiting.pending_sign_off.id}").get_data(as_text=True)
    assert "Pernah ditolak: 1 kali" in page and REASON in page
    assert "tidak ada perubahan pada evaluasi" in page
