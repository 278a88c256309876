"""The loop through the API: the client list and a new case for a returning client,
aftercare (read, follow-ups, and from the tablet's outbox), referrals (send, answer, list)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from caseflow.database import simulated_time, utcnow
from caseflow.extensions import db
from caseflow.models import Aftercare, Referral
from caseflow.services import referrals as referral_services
from caseflow.services.context import Actor
from tests.support.clients import assert_problem
from tests.support.factories import a_step
from tests.support.queries import count, events, sync

REFERRAL = {"destination_type": "health", "institution": "Puskesmas Wamena Kota", "reason": "Pemeriksaan gizi"}


# --- clients ---------------------------------------------------------------------------------


def test_the_client_list_finds_a_client_left_without_a_case(api_as, make, team):
    lost = make.client(team.facilitator, full_name="Markus Hilang")
    with_case = make.case(team.facilitator)
    api = api_as(team.facilitator)
    listed = api.get("/api/v1/clients?limit=1")
    assert listed.status_code == 200
    [first] = listed.json["items"]
    assert first["id"] == with_case.client_id and first["open_case_id"] == with_case.id and first["has_case"]
    assert "nik" not in first and first["masked_nik"].startswith(with_case.client.nik[:4])
    second = api.get(f"/api/v1/clients?limit=1&cursor={listed.json['next_cursor']}").json
    assert [c["id"] for c in second["items"]] == [lost.id] and second["items"][0]["has_case"] is False
    assert [c["id"] for c in api.get("/api/v1/clients?without_case=true").json["items"]] == [lost.id]
    assert [c["id"] for c in api.get(f"/api/v1/clients?q={lost.nik}").json["items"]] == [lost.id]


def test_a_nik_out_of_reach_finds_nothing_and_other_roles_list_nothing(api_as, make, team):
    elsewhere = make.client(team.other_facilitator, province="53")
    assert api_as(team.facilitator).get(f"/api/v1/clients?q={elsewhere.nik}").json["items"] == []
    for role in ("auditor", "manager", "admin"):
        assert api_as(getattr(team, role)).get("/api/v1/clients").json["items"] == []
    assert_problem(api_as(team.facilitator).get("/api/v1/clients?nik=1"), 422, "nik")


def test_a_returning_client_gets_a_new_case_through_the_api(api_as, make, team):
    first = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    api = api_as(team.facilitator)
    opened = api.post(f"/api/v1/clients/{first.client_id}/cases", json={"ppks_category_code": "P04"})
    assert opened.status_code == 201 and opened.headers["ETag"] == '"1"'
    assert events("case.opened", case_id=opened.json["id"])[0].context["earlier_case_ids"] == [first.id]
    linked = api.get(f"/api/v1/clients/{first.client_id}/cases").json
    assert [c["id"] for c in linked] == [opened.json["id"], first.id]
    assert_problem(api.post(f"/api/v1/clients/{first.client_id}/cases", json={"ppks_category_code": "P04"}),
                   422, "client_id")
    assert_problem(api.post(f"/api/v1/clients/{first.client_id}/cases",
                            json={"ppks_category_code": "P04", "client_id": first.client_id}), 422, "client_id")


def test_a_new_case_for_someone_elses_client_is_refused_as_unknown(api_as, make, team):
    theirs = make.case(team.other_facilitator, to="closed_unresolved", supervisor=team.other_supervisor)
    api = api_as(team.facilitator)
    assert_problem(api.post(f"/api/v1/clients/{theirs.client_id}/cases", json={"ppks_category_code": "P02"}),
                   422, "client_id")
    assert api.get(f"/api/v1/clients/{theirs.client_id}/cases").status_code == 404
    assert events("access.denied", actor_id=team.facilitator.id)


# --- aftercare -------------------------------------------------------------------------------


def resolved_days_ago(make, team, days: int):
    with simulated_time(utcnow() - timedelta(days=days)):
        return make.case(team.facilitator, to="resolved", supervisor=team.supervisor)


def test_aftercare_is_read_and_a_follow_up_logged(api_as, make, team):
    case = resolved_days_ago(make, team, 31)
    api = api_as(team.facilitator)
    status = api.get(f"/api/v1/cases/{case.id}/aftercare")
    assert status.status_code == 200 and status.json["state"] == "running"
    assert [c["status"] for c in status.json["contacts"]] == ["open", "planned", "planned"]
    logged = api.post(f"/api/v1/cases/{case.id}/aftercare/follow-ups", json=a_step(notes="Klien stabil"),
                      headers={"If-Match": f'"{case.version}"'})
    assert logged.status_code == 201 and logged.headers["ETag"] == f'"{case.version + 1}"'
    contacts = api.get(f"/api/v1/cases/{case.id}/aftercare").json["contacts"]
    assert contacts[0]["status"] == "made" and contacts[0]["step_id"] == logged.json["id"]
    assert api_as(team.supervisor).get(f"/api/v1/cases/{case.id}/aftercare").status_code == 200
    assert_problem(api_as(team.supervisor).post(f"/api/v1/cases/{case.id}/aftercare/follow-ups", json=a_step()),
                   403)


def test_a_follow_up_on_a_case_not_in_aftercare_is_refused(api_as, make, team):
    open_case = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    assert_problem(api.post(f"/api/v1/cases/{open_case.id}/aftercare/follow-ups", json=a_step()), 409)
    assert api.get(f"/api/v1/cases/{open_case.id}/aftercare").json["state"] == "none"
    over = resolved_days_ago(make, team, 200)
    assert_problem(api.post(f"/api/v1/cases/{over.id}/aftercare/follow-ups", json=a_step()), 409)
    assert api.get(f"/api/v1/cases/{over.id}/aftercare").json["state"] == "completed"


def test_a_follow_up_queued_offline_makes_the_contact(api_as, make, team):
    """The tablet's outbox sends aftercare follow-ups as steps: nothing else to queue."""
    case = resolved_days_ago(make, team, 88)
    api = api_as(team.facilitator)
    sent = api.post("/api/v1/outbox", json={"entries": [{
        "key": f"offline-{uuid.uuid4().hex}", "kind": "step", "case_id": case.id, "if_match": case.version,
        "device_time": (utcnow() - timedelta(hours=1)).isoformat(), "body": a_step(notes="Kunjungan desa")}]})
    assert sent.status_code == 200 and sent.json["results"][0]["status"] == 201
    sync()
    period = db.session.query(Aftercare).filter_by(case_id=case.id).one()
    assert [c.made_at is not None for c in period.contacts] == [False, True, False]


# --- referrals -------------------------------------------------------------------------------


def test_a_referral_is_sent_answered_and_listed(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    stale = api.post(f"/api/v1/cases/{case.id}/referrals", json=REFERRAL, headers={"If-Match": '"999"'})
    assert_problem(stale, 409)
    sent = api.post(f"/api/v1/cases/{case.id}/referrals", json=REFERRAL | {"goal_id": case.plan.goals[0].id},
                    headers={"If-Match": f'"{case.version}"', "Idempotency-Key": "ref-1"})
    assert sent.status_code == 201 and sent.json["status"] == "sent" and sent.json["overdue"] is False
    assert sent.json["destination_title"] and sent.headers["ETag"] == f'"{case.version + 1}"'
    again = api.post(f"/api/v1/cases/{case.id}/referrals", json=REFERRAL | {"goal_id": case.plan.goals[0].id},
                     headers={"If-Match": f'"{case.version}"', "Idempotency-Key": "ref-1"})
    assert again.headers.get("Idempotent-Replayed") == "true" and count(Referral) == 1
    referral_id = sent.json["id"]
    answered = api.post(f"/api/v1/referrals/{referral_id}/answer",
                        json={"status": "accepted", "feedback": "Jadwal periksa Senin"})
    assert answered.status_code == 200 and answered.json["status"] == "accepted"
    assert answered.json["answered_on"] == referral_services.today_for(team.facilitator).isoformat()
    assert_problem(api.post(f"/api/v1/referrals/{referral_id}/answer", json={"status": "sent"}), 409, "status")
    assert [r["id"] for r in api.get(f"/api/v1/cases/{case.id}/referrals").json] == [referral_id]
    assert [r["id"] for r in api.get("/api/v1/referrals?status=accepted").json["items"]] == [referral_id]
    assert api.get(f"/api/v1/referrals/{referral_id}").json["feedback"] == "Jadwal periksa Senin"


def test_referral_input_is_refused_at_its_field(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    assert_problem(api.post(f"/api/v1/cases/{case.id}/referrals", json=REFERRAL | {"destination_type": "dukun"}),
                   422, "destination_type")
    assert_problem(api.post(f"/api/v1/cases/{case.id}/referrals", json=REFERRAL | {"colour": "red"}), 422, "colour")
    assert_problem(api.post(f"/api/v1/cases/{case.id}/referrals", json=REFERRAL | {"goal_id": 2**31}), 422, "goal_id")
    assert count(Referral) == 0


def test_someone_elses_referral_is_not_found(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    referral = referral_services.send_referral(Actor(user=team.facilitator), case.id, REFERRAL)
    for person in (team.facilitator2, team.other_supervisor, team.manager):
        api = api_as(person)
        assert_problem(api.get(f"/api/v1/referrals/{referral.id}"), 404)
        assert_problem(api.post(f"/api/v1/referrals/{referral.id}/answer", json={"status": "refused"}), 404)
        assert api.get("/api/v1/referrals").json["items"] == []
    assert api_as(team.auditor).get(f"/api/v1/referrals/{referral.id}").status_code == 200


def test_overdue_referrals_are_listed_as_such(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    with simulated_time(utcnow() - timedelta(days=20)):
        late = referral_services.send_referral(Actor(user=team.facilitator), case.id, REFERRAL)
    referral_services.send_referral(Actor(user=team.facilitator), case.id, REFERRAL)
    for person in (team.facilitator, team.supervisor):
        overdue = api_as(person).get("/api/v1/referrals?overdue=true").json["items"]
        assert [r["id"] for r in overdue] == [late.id] and overdue[0]["overdue"] is True
