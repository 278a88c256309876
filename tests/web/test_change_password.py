"""A person changes their own password in the browser form; other sessions end."""

from __future__ import annotations

from tests.support.clients import isolated_client as client_for
from tests.support.clients import login
from tests.support.factories import PASSWORD

NEW = "kopi-pahit-di-wamena-2026"


def test_password_change_keeps_this_session_and_ends_the_others(app, team):
    here, elsewhere = client_for(app), client_for(app)
    login(here, "fac")
    login(elsewhere, "fac")
    page = here.get("/account/password")
    assert page.status_code == 200 and 'name="new_password"' in page.text
    done = here.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW})
    assert done.status_code == 303
    assert here.get("/").status_code in (200, 302) and "/login" not in here.get("/").headers.get("Location", "")
    assert "/login" in elsewhere.get("/").headers["Location"]
    fresh = client_for(app)
    assert fresh.post("/login", data={"username": "fac", "password": NEW}).status_code == 302


def test_wrong_current_or_weak_new_password_is_shown_at_the_field(app, team):
    client = client_for(app)
    login(client, "fac")
    wrong = client.post("/account/password", data={"current_password": "nope-nope-nope", "new_password": NEW})
    assert wrong.status_code == 422
    assert 'class="field has-error' in wrong.text
    weak = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "password1234"})
    assert weak.status_code == 422
    assert client.post("/login", data={"username": "fac", "password": PASSWORD}).status_code in (302, 200)


def test_signed_out_visitors_are_sent_to_sign_in(app):
    response = client_for(app).get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
