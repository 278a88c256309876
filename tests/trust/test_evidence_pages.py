"""The auditor's evidence pages: export buttons, the public key, who has seen a client."""

from __future__ import annotations

from datetime import timedelta

from caseflow.audit.package import verify_package
from caseflow.services import cases
from caseflow.services.audit import public_key_pem
from caseflow.services.context import Actor
from tests.support.factories import today_for


def test_auditor_exports_a_case_package_from_the_evidence_page(signed_in, make, team):
    case = make.case(team.facilitator, to="planning")
    auditor = signed_in(team.auditor)
    page = auditor.get("/audit/evidence")
    assert page.status_code == 200
    assert "BEGIN PUBLIC KEY" in page.text
    response = auditor.post("/audit/evidence/case", data={"case_number": case.number})
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert case.number in response.headers["Content-Disposition"]
    assert verify_package(response.data, public_key_pem()).ok


def test_unknown_case_number_is_named_at_its_field(signed_in, team, make):
    other = make.case(team.other_facilitator)
    auditor = signed_in(team.province_auditor)
    make.case(team.facilitator)
    response = auditor.post("/audit/evidence/case", data={"case_number": "91-2099-999999"})
    assert response.status_code == 422
    assert 'id="f-case-number-error-1"' in response.text
    beyond = auditor.post("/audit/evidence/case", data={"case_id": str(2**31)})  # no INTEGER id
    assert beyond.status_code == 422 and 'id="f-case-number-error-1"' in beyond.text
    assert auditor.post("/audit/evidence/case", data={"case_id": str(other.id)}).status_code == 200


def test_facilitator_package_from_the_page(signed_in, make, team):
    make.case(team.facilitator, to="assessment")
    today = today_for(team.facilitator)  # the form's dates are the facilitator's days (WIT)
    auditor = signed_in(team.auditor)
    response = auditor.post("/audit/evidence/facilitator", data={
        "facilitator_id": str(team.facilitator.id), "from": str(today - timedelta(days=2)), "until": str(today)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    report = verify_package(response.data)
    assert report.ok and report.in_scope_events > 0
    bad = auditor.post("/audit/evidence/facilitator", data={
        "facilitator_id": str(team.facilitator.id), "from": "kemarin", "until": str(today)})
    assert bad.status_code == 422 and 'id="f-from-error-1"' in bad.text
    for facilitator_id in (str(2**31), "²", "1" * 5000):  # beyond INTEGER, not ASCII, too long
        beyond = auditor.post("/audit/evidence/facilitator", data={
            "facilitator_id": facilitator_id, "from": str(today), "until": str(today)})
        assert beyond.status_code == 422 and 'id="f-facilitator-id-error-1"' in beyond.text


def test_evidence_pages_are_for_auditors_only(signed_in, team, make):
    case = make.case(team.facilitator)
    for user in (team.facilitator, team.supervisor, team.manager, team.admin):
        client = signed_in(user)
        assert client.get("/audit/evidence").status_code == 403
        assert client.post("/audit/evidence/case", data={"case_id": str(case.id)}).status_code == 403
        assert client.get(f"/audit/clients/{case.client_id}/viewers").status_code == 403


def test_evidence_is_in_the_auditors_menu(signed_in, team):
    assert 'href="/audit/evidence"' in signed_in(team.auditor).get("/audit/evidence").text


def test_who_has_seen_a_client_page(signed_in, make, team):
    case = make.case(team.facilitator)
    cases.record_case_view(Actor(user=team.supervisor, origin_ip="10.9.8.7"), case.id)
    auditor = signed_in(team.auditor)
    page = auditor.get(f"/audit/clients/{case.client_id}/viewers")
    assert page.status_code == 200
    assert team.supervisor.full_name in page.text and "10.9.8.7" in page.text
    assert case.client.full_name not in page.text  # the list shows who, not the client's name
    assert signed_in(team.province_auditor).get(f"/audit/clients/{case.client_id}/viewers").status_code == 404
