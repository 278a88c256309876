"""A field day queued on a tablet reaches the server through the outbox: clients and cases
made offline are named by provisional ids (the key of the entry that made them) and later
entries follow them; everything is applied once, in order, under retries; a possible
duplicate becomes the facilitator's choice; another team's ids are refused."""

from __future__ import annotations

from caseflow.models import Case, Client, IdempotencyRecord, Step
from tests.support.factories import COMPLETE_ASSESSMENT, a_step
from tests.support.queries import count, events

OUTBOX = "/api/v1/outbox"


def _client(key: str, **overrides) -> dict:
    body = {"full_name": "Maria Wenda", "nik": None, "birth_date": "1990-04-12", "sex": "F",
            "address": "Kampung Harapan", "province_code": "91", "consent_given_by": "klien",
            "consent_confirmed": True} | overrides
    return {"key": key, "kind": "client", "body": body}


def _case(key: str, client_ref: str) -> dict:
    return {"key": key, "kind": "case", "client_ref": client_ref,
            "body": {"ppks_category_code": "P02", "summary": "Ditemukan saat kunjungan"}}


def _day(prefix: str = "") -> list[dict]:
    """A client and a case registered offline, then the case moved to planning with steps."""
    c, k = prefix + "client-1", prefix + "case-1"
    return [
        _client(c),
        _case(k, c),
        {"key": prefix + "t1", "kind": "transition", "trigger": "start_assessment", "case_ref": k,
         "if_match": 1, "body": {}},
        {"key": prefix + "s1", "kind": "step", "case_ref": k, "if_match": 2, "body": a_step(notes="Kunjungan 1")},
        {"key": prefix + "a1", "kind": "assessment", "case_ref": k, "if_match": 3, "body": COMPLETE_ASSESSMENT},
        {"key": prefix + "t2", "kind": "transition", "trigger": "complete_assessment", "case_ref": k,
         "if_match": 4, "body": {}},
    ]


def test_a_client_and_case_made_offline_are_followed_by_later_entries(api_as, team):
    api = api_as(team.facilitator)
    response = api.post(OUTBOX, json={"entries": _day()})
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [r["status"] for r in results] == [201, 201, 200, 201, 200, 200], results
    client_id = results[0]["body"]["id"]
    case_id = results[1]["body"]["id"]
    assert results[1]["body"]["client_id"] == client_id
    assert results[5]["body"]["state"] == "planning" and results[5]["body"]["id"] == case_id
    assert results[5]["etag"] == '"5"'
    assert count(Step, Step.case_id == case_id) == 1
    assert count(Case, Case.client_id == client_id) == 1
    assert events("client.registered", actor_id=team.facilitator.id)


def test_a_day_sent_again_after_a_lost_answer_is_applied_exactly_once(api_as, team):
    api = api_as(team.facilitator)
    entries = _day()
    first = api.post(OUTBOX, json={"entries": entries[:3]}).json["results"]  # the answer "lost"
    # The tablet sends everything again, then again in another split.
    again = api.post(OUTBOX, json={"entries": entries}).json["results"]
    assert [r["replayed"] for r in again] == [True, True, True, False, False, False]
    assert [r["body"] for r in again[:3]] == [r["body"] for r in first]
    third = api.post(OUTBOX, json={"entries": entries[3:]}).json["results"]
    assert all(r["replayed"] for r in third)
    assert count(Client, Client.full_name == "Maria Wenda") == 1
    assert count(Case, Case.client_id == first[0]["body"]["id"]) == 1
    assert count(Step, Step.notes == "Kunjungan 1") == 1


def test_an_entry_naming_a_case_not_made_yet_waits(api_as, team):
    api = api_as(team.facilitator)
    entries = _day()
    results = api.post(OUTBOX, json={"entries": entries[2:4]}).json["results"]
    assert [r["status"] for r in results] == [424, 424]
    assert "case_ref" in results[0]["body"]["errors"]
    assert count(IdempotencyRecord) == 0
    results = api.post(OUTBOX, json={"entries": entries}).json["results"]
    assert [r["status"] for r in results] == [201, 201, 200, 201, 200, 200]


def test_a_possible_duplicate_becomes_the_facilitators_choice(api_as, make, team):
    existing = make.client(team.facilitator, full_name="Maria Wenda", birth_date="1990-04-12", nik=None)
    api = api_as(team.facilitator)
    entries = _day()
    results = api.post(OUTBOX, json={"entries": entries}).json["results"]
    assert [r["status"] for r in results] == [422, 424, 424, 424, 424, 424]
    duplicates = results[0]["body"]["current"]["duplicates"]
    assert [d["id"] for d in duplicates] == [existing.id] and duplicates[0]["full_name"] == "Maria Wenda"
    assert count(Client, Client.full_name == "Maria Wenda") == 1

    # Continue with the existing client: the same key, the choice in the body.
    entries[0] = {"key": "client-1", "kind": "client", "body": {"existing_client_id": existing.id}}
    results = api.post(OUTBOX, json={"entries": entries}).json["results"]
    assert [r["status"] for r in results] == [201, 201, 200, 201, 200, 200], results
    assert results[1]["body"]["client_id"] == existing.id
    assert count(Client, Client.full_name == "Maria Wenda") == 1
    assert events("client.merged_from_tablet", actor_id=team.facilitator.id)[0].context["client_id"] == existing.id


def test_another_person_with_the_same_name_is_kept_with_a_reason(api_as, make, team):
    existing = make.client(team.facilitator, full_name="Maria Wenda", birth_date="1990-04-12", nik=None)
    api = api_as(team.facilitator)
    blank = _client("c", distinct_reason="  ")
    assert api.post(OUTBOX, json={"entries": [blank]}).json["results"][0]["body"]["errors"]["distinct_reason"]
    kept = _client("c", distinct_reason="Ibu dan anak bernama sama; alamat berbeda")
    result = api.post(OUTBOX, json={"entries": [kept]}).json["results"][0]
    assert result["status"] == 201 and result["body"]["id"] != existing.id
    event = events("client.registered_despite_match", actor_id=team.facilitator.id)[0]
    assert event.context["matches"] == [existing.id] and event.context["reason"].startswith("Ibu dan anak")


def test_the_same_nik_cannot_be_kept_as_another_person(api_as, make, team):
    existing = make.client(team.facilitator)
    api = api_as(team.facilitator)
    entry = _client("c", nik=existing.nik, birth_date=existing.birth_date.isoformat(), sex="M", full_name="Lain",
                    distinct_reason="Orang lain")
    result = api.post(OUTBOX, json={"entries": [entry]}).json["results"][0]
    assert result["status"] == 422, result
    assert result["body"]["current"]["duplicates"][0]["same_nik"] is True
    assert "nik" in result["body"]["errors"]


def test_another_teams_ids_are_refused_and_recorded(api_as, make, team):
    theirs = make.client(team.other_facilitator, province="53")
    their_case = make.case(team.other_facilitator, to="assessment")
    api = api_as(team.facilitator)
    entries = [
        {"key": "m", "kind": "client", "body": {"existing_client_id": theirs.id}},
        {"key": "o", "kind": "case", "body": {"client_id": theirs.id, "ppks_category_code": "P02"}},
        {"key": "s", "kind": "step", "case_id": their_case.id, "body": a_step()},
    ]
    results = api.post(OUTBOX, json={"entries": entries}).json["results"]
    assert [r["status"] for r in results] == [422, 422, 404]
    assert "existing_client_id" in results[0]["body"]["errors"] and "client_id" in results[1]["body"]["errors"]
    assert count(Case, Case.client_id == theirs.id) == 0
    denied = [e.context["what"] for e in events("access.denied", actor_id=team.facilitator.id)]
    assert "tablet registration: existing client" in denied and "open case: client" in denied
    # Someone else's provisional ids name nothing of theirs.
    other_api = api_as(team.facilitator2)
    mine = api.post(OUTBOX, json={"entries": _day("mine-")[:2]}).json["results"]
    assert [r["status"] for r in mine] == [201, 201]
    stolen = other_api.post(OUTBOX, json={"entries": [
        {"key": "x", "kind": "step", "case_ref": "mine-case-1", "body": a_step(notes="bukan milikku")}]})
    assert stolen.json["results"][0]["status"] == 424
    assert count(Step, Step.notes == "bukan milikku") == 0


def test_entries_name_their_case_one_way_only(api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    both = {"key": "b", "kind": "step", "case_id": case.id, "case_ref": "x", "body": a_step()}
    neither = {"key": "n", "kind": "step", "body": a_step()}
    client_with_case = _client("c") | {"case_id": case.id}
    for entry, field in ((both, "case_id"), (neither, "case_id"), (client_with_case, "case_id")):
        response = api.post(OUTBOX, json={"entries": [entry]})
        assert response.status_code == 422 and f"entries.0.{field}" in str(response.json["errors"]), response.json
    assert count(IdempotencyRecord) == 0
    assert count(Client, Client.full_name == "Maria Wenda") == 0
