"""What a facilitator's and a supervisor's case list say beyond each case's stage: who
must act next and by when, a standing rejection, the notices above the list (overdue
referrals, aftercare contacts due now) and the menu's unread count. The list reads them
in a few statements of its own (caseflow/web/cases.py), so they are checked here on the
page as people read it."""

from __future__ import annotations

from datetime import timedelta

from flask import url_for
from sqlalchemy import event

from caseflow.database import simulated_time, utcnow
from caseflow.extensions import db
from caseflow.models import User
from caseflow.services import aftercare, sign_off_policy
from caseflow.services import cases as case_services
from caseflow.services import referrals as referral_services
from caseflow.services.context import Actor
from caseflow.web.cases import _page_url
from tests.support.factories import terminate


def page(signed_in, user, path: str = "/cases") -> str:
    response = signed_in(user).get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_next_move_and_a_late_one_show_on_each_row(signed_in, team, make):
    with simulated_time(utcnow() - timedelta(days=30)):
        late = make.case(team.facilitator, to="assessment")
    make.case(team.facilitator, to="termination_review")
    mine = page(signed_in, team.facilitator)
    assert 'data-holder="facilitator" data-status="overdue"' in mine and "Terlambat" in mine
    assert 'data-holder="supervisor"' in mine  # the request waits for the supervisor
    theirs = page(signed_in, team.supervisor)
    assert f"Terlambat di {team.facilitator.full_name}" in theirs  # late with the facilitator
    assert "Giliran Anda: Putuskan pengajuan" in theirs
    assert f"Pendamping: {team.facilitator.full_name}" in theirs
    assert late.number in theirs


def test_a_rejected_termination_stands_on_the_row_until_the_next_request(signed_in, team, make):
    case = make.case(team.facilitator, to="evaluation")
    terminate(Actor(user=team.facilitator), case)
    db.session.refresh(case)
    case_services.decide_sign_off(Actor(user=team.supervisor), case.pending_sign_off.id,
                                  {"decision": "reject", "reason": "Tujuan <b>belum</b> tercapai"})
    listing = page(signed_in, team.facilitator)
    assert "Terminasi ditolak" in listing and "Tujuan &lt;b&gt;belum&lt;/b&gt; tercapai" in listing
    assert '<span class="nav-count">1' in listing  # the rejection's notification, unread


def test_overdue_referrals_and_due_aftercare_contacts_are_noticed_above_the_list(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    with simulated_time(utcnow() - timedelta(days=20)):
        referral_services.send_referral(Actor(user=team.facilitator), case.id, {
            "destination_type": "ppa", "institution": "UPTD PPA Jayawijaya", "reason": "Kekerasan"})
    with simulated_time(utcnow() - timedelta(days=35)):
        followed = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    for person in (team.facilitator, team.supervisor):
        listing = page(signed_in, person)
        assert 'id="overdue-referrals"' in listing and "UPTD PPA Jayawijaya" in listing
        assert 'id="aftercare-due"' in listing and f'href="/cases/{followed.id}#aftercare"' in listing
    elsewhere = page(signed_in, team.facilitator2)
    assert 'id="overdue-referrals"' not in elsewhere and 'id="aftercare-due"' not in elsewhere
    # An empty list still has its notices (read on their own when there is no row).
    assert 'id="overdue-referrals"' in page(signed_in, team.facilitator, "/cases?q=nobody-has-this-name")


def test_a_contact_is_due_only_while_its_window_is_open_and_it_is_not_made(team, make):
    start = utcnow() - timedelta(days=200)
    with simulated_time(start):
        case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    resolved_at = case.stage_entered_at
    assert aftercare.contacts_due(team.facilitator, resolved_at + timedelta(days=10)) == []  # not yet open
    due = aftercare.contacts_due(team.facilitator, resolved_at + timedelta(days=25))
    assert [(contact.number, row.id) for contact, row in due] == [(1, case.id)]
    assert aftercare.contacts_due(team.supervisor, resolved_at + timedelta(days=25)) == due
    assert aftercare.contacts_due(team.facilitator2, resolved_at + timedelta(days=25)) == []
    assert aftercare.contacts_due(team.facilitator, resolved_at + timedelta(days=50)) == []  # missed


def test_a_supervisor_lists_the_team_they_act_for_only_while_the_delegation_runs(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    today = utcnow().date()

    def delegate(starts_on, ends_on):
        return sign_off_policy.delegate_supervisor(Actor(user=team.supervisor), {
            "acting_id": team.other_supervisor.id, "starts_on": str(starts_on), "ends_on": str(ends_on),
            "reason": "Cuti"})

    assert case.number not in page(signed_in, team.other_supervisor)
    later = delegate(today + timedelta(days=3), today + timedelta(days=5))
    assert case.number not in page(signed_in, team.other_supervisor)  # the same statement, another day
    sign_off_policy.revoke_delegation(Actor(user=team.supervisor), later.id)
    current = delegate(today - timedelta(days=1), today + timedelta(days=7))
    assert case.number in page(signed_in, team.other_supervisor)
    assert case.number not in page(signed_in, team.other_supervisor, "/cases?state=assessment")
    sign_off_policy.revoke_delegation(Actor(user=team.supervisor), current.id)
    assert case.number not in page(signed_in, team.other_supervisor)


def test_a_request_escalated_to_the_supervisors_supervisor_puts_its_case_in_their_list(signed_in, team, make):
    coordinator = make.user("supervisor", province="91", username="koordinator")
    db.session.get(User, team.supervisor.id).supervisor_id = coordinator.id
    db.session.commit()
    with simulated_time(utcnow() - timedelta(days=14)):
        case = make.case(team.facilitator, to="termination_review")
    assert case.number not in page(signed_in, coordinator)
    assert sign_off_policy.escalate_overdue_sign_offs()
    listing = page(signed_in, coordinator)
    assert case.number in listing and f"Pendamping: {team.facilitator.full_name}" in listing


def test_the_next_move_is_said_in_the_readers_language_each_time(signed_in, team, make):
    with simulated_time(utcnow() - timedelta(days=30)):
        make.case(team.facilitator, to="assessment")
    client = signed_in(team.facilitator)
    indonesian = client.get("/cases").get_data(as_text=True)
    assert "Giliran Anda: Selesaikan tahap" in indonesian and "Terlambat" in indonesian
    assert client.post("/language", data={"locale": "en"}).status_code == 303
    english = client.get("/cases").get_data(as_text=True)
    assert "Your move: Finish the stage “Assessment”" in english and ">Overdue<" in english
    assert "Giliran Anda" not in english and "Selesaikan" not in english
    client.post("/language", data={"locale": "id"})
    assert "Giliran Anda: Selesaikan tahap" in client.get("/cases").get_data(as_text=True)


def test_the_filters_show_the_chosen_stage_and_category_in_the_readers_language(signed_in, team, make):
    make.case(team.facilitator, to="assessment")
    client = signed_in(team.facilitator)
    chosen = client.get("/cases?state=assessment&category=P03").get_data(as_text=True)
    assert '<option value="assessment" selected>Asesmen</option>' in chosen
    assert '<option value="P03" selected>' in chosen and chosen.count(" selected>") == 2
    # A value none of the options has chooses none (the select's HTML is made once per choice).
    unknown = client.get("/cases?state=nothing&category=%3Cb%3E").get_data(as_text=True)
    assert " selected>" not in unknown and "<b>" not in unknown
    assert client.post("/language", data={"locale": "en"}).status_code == 303
    english = client.get("/cases?state=assessment").get_data(as_text=True)
    assert '<option value="assessment" selected>Assessment</option>' in english and "All categories" in english
    client.post("/language", data={"locale": "id"})


def test_the_pager_links_keep_the_filters_as_url_for_writes_them(app):
    for base_url in ("http://localhost/", "http://localhost/caseflow/"):  # unfiltered links kept per root
        with app.test_request_context("/cases", base_url=base_url):
            for filters in ({"q": "", "state": "", "category": ""},
                            {"q": "Siti & 987654321 ?page=9", "state": "assessment", "category": "P03"},
                            {"q": "987654321", "state": "", "category": "P01"},
                            {"q": "", "state": "", "category": ""}):
                page_url = _page_url(filters)
                for number in (1, 2, 17):
                    assert page_url(number) == url_for("cases.my_cases", page=number, **filters)


def test_the_menu_marks_each_page_its_own_entry_though_made_once(signed_in, team):
    client = signed_in(team.facilitator)
    for _ in range(2):  # made, then remembered
        cases = client.get("/cases").get_data(as_text=True)
        clients = client.get("/clients").get_data(as_text=True)
        assert '<a href="/cases" aria-current="page">' in cases and '<a href="/clients">' in cases
        assert '<a href="/clients" aria-current="page">' in clients and '<a href="/cases">' in clients


def test_the_list_ends_its_read_with_a_commit(signed_in, team, make):
    """A read-only page ended with a ROLLBACK would make psycopg forget the worker's
    prepared statements (database.end_read): the list commits its read instead."""
    make.case(team.facilitator, to="intervention")
    client = signed_in(team.facilitator)
    ended = []

    def note(what):
        return lambda _connection: ended.append(what)

    listeners = [(db.engine, "commit", note("commit")), (db.engine, "rollback", note("rollback"))]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        assert client.get("/cases").status_code == 200
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    assert ended == ["commit"]
