"""The owner's token page: create (secret shown once), refused input named, revoke."""

from __future__ import annotations

from caseflow.extensions import db
from caseflow.models import ApiToken
from tests.support.queries import sync


def test_facilitator_creates_and_revokes_a_token_on_the_page(api_as, team):
    browser = api_as(team.facilitator)
    page = browser.get("/tokens/")
    assert page.status_code == 200 and "cases:write" in page.get_data(as_text=True)
    assert "audit:read" not in page.get_data(as_text=True)
    created = browser.post("/tokens/", data={"name": "Dinsos", "scopes": ["cases:read"],
                                             "expires_in_days": "30"})
    html = created.get_data(as_text=True)
    assert created.status_code == 201 and "cf_" in html and "Dinsos" in html
    sync()
    token = db.session.query(ApiToken).one()
    assert token.prefix in html and token.token_hash not in html
    assert "cf_" not in browser.get("/tokens/").get_data(as_text=True).replace(token.prefix, "")
    revoked = browser.post(f"/tokens/{token.id}/revoke")
    assert revoked.status_code == 303
    sync()
    assert db.session.get(ApiToken, token.id).revoked_at is not None


def test_the_page_names_refused_input(api_as, team):
    browser = api_as(team.facilitator)
    response = browser.post("/tokens/", data={"name": "", "expires_in_days": "abc"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="f-name"' in html and "field-error" in html


def test_roles_without_api_use_are_refused(api_as, team):
    assert api_as(team.admin).get("/tokens/").status_code == 403
    assert api_as(team.manager).get("/tokens/").status_code == 403


def test_docs_page_is_served_without_cdn(api_as, team):
    html = api_as(team.facilitator).get("/api/v1/docs").get_data(as_text=True)
    assert "vendor/swagger-ui/swagger-ui-bundle.js" in html and "caseflow-init.js" in html
    assert "cdn" not in html.lower() and "<script>" not in html
