"""Health and protection notes: entered on the forms, shown to the people of the case,
stored encrypted (a copied database file does not reveal them)."""

from __future__ import annotations

from caseflow.extensions import db
from caseflow.models import Client
from tests.support.factories import CLIENT_FORM as CLIENT
from tests.support.queries import fresh, raw, sync

SECRET_HEALTH = "ODHA, terapi ARV rutin di puskesmas"
SECRET_PROTECTION = "Korban perdagangan orang, pelaku masih di kampung"


def test_notes_are_entered_shown_and_encrypted(signed_in, team, make):
    client = signed_in(team.facilitator)
    response = client.post("/clients/new", data=CLIENT | {"health_notes": SECRET_HEALTH})
    assert response.status_code in (302, 303), response.text
    sync()
    registered = db.session.query(Client).filter_by(nik=CLIENT["nik"]).one()
    assert registered.health_notes == SECRET_HEALTH
    assert SECRET_HEALTH not in str(raw("SELECT health_notes FROM clients WHERE id = :id", id=registered.id))

    case = make.case(team.facilitator, to="assessment")
    page = client.get(f"/cases/{case.id}")
    assert 'name="protection_notes"' in page.text
    saved = client.post(f"/cases/{case.id}/assessment", data={
        "problem": "Masalah", "needs": "Kebutuhan", "strengths": "Kekuatan", "risk_level": "high",
        "protection_notes": SECRET_PROTECTION, "expected_version": str(fresh(case).version),
    })
    assert saved.status_code in (302, 303), saved.text
    assert SECRET_PROTECTION in client.get(f"/cases/{case.id}").text
    stored = raw("SELECT protection_notes FROM assessments WHERE case_id = :id", id=case.id)
    assert SECRET_PROTECTION not in str(stored)

    # the supervisor of the case reads them; a facilitator of another team cannot open the case
    assert SECRET_PROTECTION in signed_in(team.supervisor).get(f"/cases/{case.id}").text
    assert signed_in(team.other_facilitator).get(f"/cases/{case.id}").status_code == 404


def test_the_case_page_shows_the_client_in_full_and_lists_mask_the_nik(signed_in, team, make):
    case = make.case(team.facilitator)
    nik = case.client.nik
    for person in (team.facilitator, team.supervisor, team.auditor):
        assert nik in signed_in(person).get(f"/cases/{case.id}").text
    listing = signed_in(team.auditor).get(f"/audit/cases?q={case.number}").text
    assert case.number in listing and nik not in listing
