"""The loop between the people, on the pages: a client is never lost between the two
registration screens, a resolved case is followed in aftercare, and a referral answers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from caseflow.database import simulated_time, utcnow
from caseflow.extensions import db
from caseflow.models import AuditEvent, Case, Client, Referral
from caseflow.services import referrals as referral_services
from caseflow.services.context import Actor
from tests.support.queries import count, sync

PERSON = {
    "full_name": "Yakobus Tabuni", "nik": "9101011508850777", "birth_date": "1985-08-15", "sex": "M",
    "province_code": "91", "address": "Wamena", "consent_given_by": "klien", "consent_confirmed": "1",
}


# --- no client is lost ---------------------------------------------------------------------


def test_a_client_left_without_a_case_is_found_in_the_client_list(signed_in, team, make):
    lost = make.client(team.facilitator, full_name="Markus Hilang")
    web = signed_in(team.facilitator)
    page = web.get("/clients").get_data(as_text=True)
    assert "Markus Hilang" in page and "Belum ada kasus" in page
    found = web.get("/clients", query_string={"q": lost.nik}).get_data(as_text=True)
    assert "Markus Hilang" in found and lost.masked_nik in found  # listed with the masked NIK
    assert "Markus Hilang" in web.get("/clients", query_string={"without_case": "1"}).get_data(as_text=True)
    detail = web.get(f"/clients/{lost.id}")
    assert detail.status_code == 200 and f"/clients/{lost.id}/open-case" in detail.get_data(as_text=True)
    sync()
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "client.viewed")).scalar_one()


def test_a_nik_of_another_team_finds_nothing_in_the_list(signed_in, team, make):
    theirs = make.client(team.other_facilitator, province="53", full_name="Maria Rahasia")
    page = signed_in(team.facilitator).get("/clients", query_string={"q": theirs.nik}).get_data(as_text=True)
    assert "Maria Rahasia" not in page and "Tidak ada klien Anda dengan NIK ini" in page
    assert signed_in(team.facilitator).get(f"/clients/{theirs.id}").status_code == 404


def test_registering_someone_already_registered_offers_to_continue_with_them(signed_in, team, make):
    earlier = make.client(team.facilitator, full_name="Yakobus Tabuni", nik=None, birth_date="1985-08-15")
    web = signed_in(team.facilitator)
    offer = web.post("/clients/new", data=PERSON)
    page = offer.get_data(as_text=True)
    assert offer.status_code == 200 and "Lanjutkan dengan Yakobus Tabuni" in page
    assert f'href="/clients/{earlier.id}"' in page and 'name="different_person"' in page
    assert count(Client) == 1
    registered = web.post("/clients/new", data=PERSON | {"different_person": "1"})
    assert registered.status_code == 303 and count(Client) == 2


def test_the_same_nik_within_reach_is_refused_pointing_to_the_client(signed_in, team, make):
    earlier = make.client(team.facilitator, full_name="Siti Lama")
    data = PERSON | {"full_name": "Siti Baru", "nik": earlier.nik, "birth_date": earlier.birth_date.isoformat(),
                     "different_person": "1"}
    refused = signed_in(team.facilitator).post("/clients/new", data=data)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Lanjutkan dengan Siti Lama" in page
    assert 'name="different_person"' not in page  # a NIK is one person's: no "register anyway"
    assert count(Client) == 1


def test_a_returning_client_gets_a_new_case_linked_to_the_earlier_one(signed_in, team, make):
    first = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    web = signed_in(team.facilitator)
    client_page = web.get(f"/clients/{first.client_id}").get_data(as_text=True)
    assert "Kasus baru untuk klien ini" in client_page
    opening = web.get(f"/clients/{first.client_id}/open-case").get_data(as_text=True)
    assert first.number in opening and 'name="ppks_category_code"' in opening
    opened = web.post(f"/clients/{first.client_id}/open-case", data={"ppks_category_code": "P04"})
    assert opened.status_code == 303
    sync()
    new = db.session.execute(select(Case).where(Case.client_id == first.client_id, Case.id != first.id)).scalar_one()
    case_page = web.get(f"/cases/{new.id}").get_data(as_text=True)
    assert "Kasus lain klien ini" in case_page and first.number in case_page
    again = web.get(f"/clients/{first.client_id}/open-case").get_data(as_text=True)
    assert new.number in again and 'name="ppks_category_code"' not in again  # one open case at a time


# --- aftercare -----------------------------------------------------------------------------


def test_a_resolved_case_in_aftercare_takes_follow_up_steps_on_its_page(signed_in, team, make):
    with simulated_time(utcnow() - timedelta(days=35)):
        case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    web = signed_in(team.facilitator)
    page = web.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="aftercare"' in page and "Catat kontak bimbingan lanjut" in page
    assert 'data-contact-status="open"' in page
    logged = web.post(f"/cases/{case.id}/steps/new", data={
        "step_type": "home_visit", "occurred_at": (utcnow() + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M"),
        "notes": "Klien rutin bersekolah", "expected_version": case.version})
    assert logged.status_code == 303
    page = web.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-contact="1" data-contact-status="made"' in page
    listing = web.get("/aftercare").get_data(as_text=True)
    assert case.number in listing
    assert case.number in signed_in(team.supervisor).get("/aftercare").get_data(as_text=True)
    assert signed_in(team.auditor).get("/aftercare").status_code == 403


# --- referrals -----------------------------------------------------------------------------


def test_a_referral_is_sent_answered_and_printed(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    web = signed_in(team.facilitator)
    form = web.get(f"/cases/{case.id}/referrals/new")
    assert form.status_code == 200 and "Dukcapil" in form.get_data(as_text=True)
    refused = web.post(f"/cases/{case.id}/referrals/new", data={"destination_type": "dukcapil",
                                                               "expected_version": case.version})
    assert refused.status_code == 422 and 'id="f-institution-error-1"' in refused.get_data(as_text=True)
    sent = web.post(f"/cases/{case.id}/referrals/new", data={
        "destination_type": "dukcapil", "institution": "Dukcapil Jayawijaya", "reason": "Belum punya KTP",
        "goal_id": str(case.plan.goals[0].id), "expected_version": case.version})
    assert sent.status_code == 303
    sync()
    referral = db.session.execute(select(Referral)).scalar_one()
    assert "Dukcapil Jayawijaya" in web.get(f"/cases/{case.id}").get_data(as_text=True)
    answered = web.post(f"/referrals/{referral.id}", data={"status": "service_given", "feedback": "KTP terbit"})
    assert answered.status_code == 303
    sync()
    assert db.session.get(Referral, referral.id).status == "service_given"
    letter = web.get(f"/referrals/{referral.id}/letter.pdf")
    assert letter.status_code == 200 and letter.data.startswith(b"%PDF")
    assert signed_in(team.supervisor).get(f"/referrals/{referral.id}/letter.pdf").status_code == 200
    assert signed_in(team.facilitator2).get(f"/referrals/{referral.id}").status_code == 404


def test_overdue_referrals_show_on_the_facilitators_and_supervisors_lists(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    with simulated_time(utcnow() - timedelta(days=20)):
        referral_services.send_referral(Actor(user=team.facilitator), case.id, {
            "destination_type": "ppa", "institution": "UPTD PPA Jayawijaya", "reason": "Kekerasan dalam rumah"})
    for person, path in ((team.facilitator, "/cases"), (team.supervisor, "/team/overdue"),
                         (team.facilitator, "/referrals?show=overdue"), (team.supervisor, "/referrals?show=overdue")):
        page = signed_in(person).get(path).get_data(as_text=True)
        assert "UPTD PPA Jayawijaya" in page, (person.username, path)
    assert "UPTD PPA Jayawijaya" not in signed_in(team.facilitator2).get("/cases").get_data(as_text=True)


def test_an_answer_for_the_wrong_status_is_refused_at_its_field(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    referral = referral_services.send_referral(Actor(user=team.facilitator), case.id, {
        "destination_type": "school", "institution": "SD Inpres", "reason": "Sekolah kembali"})
    web = signed_in(team.facilitator)
    refused = web.post(f"/referrals/{referral.id}", data={"status": "accepted",
                                                          "answered_on": "2000-01-01"})
    assert refused.status_code == 422 and 'id="f-answered-on-error-1"' in refused.get_data(as_text=True)
    assert count(Referral, Referral.status == "sent") == 1
