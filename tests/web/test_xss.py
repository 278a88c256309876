"""Hostile text in every free-text field is shown as text, never run as markup, on every
page that displays it (the case page, the sign-off page, the audit timeline, lists)."""

from __future__ import annotations

from caseflow.services import cases
from caseflow.services.context import Actor
from tests.support.factories import a_step, rate_all

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
RAW_MARKERS = ("<script>alert", "<img src=x")


def hostile(label: str) -> str:
    return f"{label} {PAYLOAD}"


def assert_escaped(html: str, where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: raw {marker!r} in the page"
    assert "&lt;script&gt;" in html or "&lt;img" in html, f"{where}: the text is not shown at all"


def test_hostile_text_is_escaped_everywhere(signed_in, team, make):
    me = Actor(user=team.facilitator)
    client = make.client(team.facilitator, full_name=hostile("Nama"), address=hostile("Alamat"),
                         guardian_name=None, consent_given_by=hostile("Wali"))
    case = cases.open_case(me, {"client_id": client.id, "ppks_category_code": "P02", "summary": hostile("Ringkasan")})
    cases.fire_trigger(me, case.id, "start_assessment")
    cases.save_assessment(me, case.id, {"problem": hostile("Masalah"), "needs": hostile("Kebutuhan"),
                                        "strengths": hostile("Kekuatan"), "resources": hostile("Sumber"),
                                        "risk_level": "high"})
    cases.fire_trigger(me, case.id, "complete_assessment")
    cases.save_plan(me, case.id, {"summary": hostile("Rencana"), "goals": [
        {"description": hostile("Tujuan"), "target_date": "2027-01-31", "responsible_party": hostile("PJ")}]})
    cases.fire_trigger(me, case.id, "start_intervention")
    cases.log_step(me, case.id, a_step(notes=hostile("Catatan"), location=hostile("Lokasi")))
    cases.fire_trigger(me, case.id, "start_evaluation")
    ratings = rate_all(case, "achieved")
    ratings["ratings"][0]["notes"] = hostile("Nilai")
    cases.save_evaluation(me, case.id, ratings | {"summary": hostile("Evaluasi")})
    cases.save_termination_request(me, case.id, {"outcome": "resolved", "aftercare_plan": hostile("Bimbingan"),
                                                 "reason_details": hostile("Rincian")})
    cases.fire_trigger(me, case.id, "request_termination")

    facilitator = signed_in(team.facilitator)
    supervisor = signed_in(team.supervisor)
    auditor = signed_in(team.auditor)
    sign_off_id = cases.pending_sign_offs_for(team.supervisor)[0].id
    pages = {
        "case page (facilitator)": facilitator.get(f"/cases/{case.id}"),
        "my cases": facilitator.get("/cases?q=Nama"),
        "sign-off page": supervisor.get(f"/team/sign-offs/{sign_off_id}"),
        "case page (auditor)": auditor.get(f"/cases/{case.id}"),
        "audit timeline": auditor.get(f"/audit/cases/{case.id}/history"),
    }
    for where, response in pages.items():
        assert response.status_code == 200, (where, response.status_code)
        assert_escaped(response.text, where)

    # a rejection reason typed by the supervisor is shown escaped too
    cases.decide_sign_off(Actor(user=team.supervisor), sign_off_id, {"decision": "reject", "reason": hostile("Alasan")})
    assert_escaped(facilitator.get(f"/cases/{case.id}").text, "case page after rejection")
