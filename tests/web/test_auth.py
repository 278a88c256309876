"""Signing in and out, timeouts, the language switch, CSRF and security headers."""

from __future__ import annotations

import re
import time

import pytest
from flask import g, render_template_string, session
from flask_wtf.csrf import generate_csrf, validate_csrf
from itsdangerous import TimestampSigner
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import AuditEvent, User
from caseflow.services.context import Actor
from caseflow.services.users import set_active
from tests.support.clients import IsolatedClient, csrf_token, isolated_client, login
from tests.support.factories import PASSWORD


def test_sign_in_page_is_indonesian_with_remember_me_off(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert 'lang="id"' in page.text and "Nama pengguna" in page.text
    assert 'name="remember"' in page.text
    assert 'name="remember" type="checkbox" value="1" checked' not in page.text


def test_wrong_password_and_unknown_user_get_the_same_message(client, team):
    wrong = client.post("/login", data={"username": "fac", "password": "nope-nope-nope"})
    unknown = client.post("/login", data={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in wrong.text
    assert "Nama pengguna atau kata sandi salah." in unknown.text
    assert client.get("/cases").status_code == 302


def test_deactivated_account_is_refused_with_a_clear_message(client, make):
    user = make.user("auditor", username="gone")
    set_active(Actor.cli(), user.id, False)
    response = client.post("/login", data={"username": "gone", "password": PASSWORD})
    assert response.status_code == 401
    assert "dinonaktifkan" in response.text


def test_deactivation_ends_a_session_already_open_at_its_next_request(client, team):
    remembered = IsolatedClient(client.application, client.response_wrapper, use_cookies=True)
    login(client, "fac")
    assert remembered.post("/login", data={"username": "fac", "password": PASSWORD,
                                           "remember": "1"}).status_code == 302
    assert client.get("/cases").status_code == 200
    set_active(Actor(user=team.admin), team.facilitator.id, False)
    assert "/login" in client.get("/cases").headers["Location"]
    assert client.get("/api/v1/cases").status_code == 401
    remembered.delete_cookie("session")  # only the "remember me" cookie is left
    assert "/login" in remembered.get("/cases").headers["Location"]


def test_sign_in_starts_a_fresh_session_without_remember_cookie(client, team):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    response = login(client, "fac")
    assert "remember_token" not in response.headers.get("Set-Cookie", "")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_signed_in_at"] <= time.time()
    assert client.get("/", follow_redirects=False).headers["Location"].endswith("/cases")


def test_a_request_sent_from_the_sign_in_page_leaves_its_cookie_alone(client, team):
    """The sign-in page's session holds only its CSRF token: an answer to a request sent
    with it (the service worker's script, fetched as the page loads) sets no cookie, or,
    arriving after the answer to the sign-in, it would replace the new session."""
    assert client.get("/login").status_code == 200
    with client.session_transaction() as session:
        assert "csrf_token" in session and "_user_id" not in session
    for path in ("/sw.js", "/login"):
        answer = client.get(path)
        assert answer.status_code == 200 and "Set-Cookie" not in answer.headers, path
    login(client, "fac")
    assert client.get("/cases").status_code == 200


def test_remember_me_works_beside_a_session_holding_only_the_sign_in_form(client, team):
    elsewhere = IsolatedClient(client.application, client.response_wrapper, use_cookies=True)
    elsewhere.post("/login", data={"username": "fac", "password": PASSWORD, "remember": "1"})
    assert client.get("/login").status_code == 200  # a session with only the form's token
    client.set_cookie("remember_token", elsewhere.get_cookie("remember_token").value)
    assert client.get("/cases").status_code == 200


def test_a_session_used_from_another_browser_is_ended(client, team):
    client.post("/login", data={"username": "fac", "password": PASSWORD},
                headers={"User-Agent": "Tablet A"})
    assert client.get("/cases", headers={"User-Agent": "Tablet A"}).status_code == 200
    answer = client.get("/cases", headers={"User-Agent": "Someone else"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert client.get("/cases", headers={"User-Agent": "Tablet A"}).status_code == 302


def test_the_kept_session_identifier_is_flask_logins_own(app):
    """Made once per address, forwarded-for and User-Agent header (extensions.LoginManager),
    and the same as Flask-Login makes it for each."""
    from flask_login.utils import _create_identifier

    from caseflow.extensions import login_manager

    browsers = [{}, {"User-Agent": "Tablet A"}, {"User-Agent": "Tablet B"},
                {"User-Agent": "Tablet A", "X-Forwarded-For": "10.0.0.7, 10.0.0.1"},
                {"User-Agent": "Tablet A", "X-Forwarded-For": "10.0.0.8"}]
    made = set()
    for _ in range(2):
        for headers in browsers:
            for address in ("127.0.0.1", "192.0.2.9"):
                with app.test_request_context("/cases", headers=headers, environ_base={"REMOTE_ADDR": address}):
                    identifier = login_manager._session_identifier_generator()
                    assert identifier == _create_identifier()
                    made.add(identifier)
    assert len(made) == 8  # the forwarded-for address stands for the address when given


def test_remember_me_sets_a_cookie_only_when_asked(client, team):
    response = client.post("/login", data={"username": "fac", "password": PASSWORD, "remember": "1"})
    assert "remember_token" in response.headers.get("Set-Cookie", "")


def test_sign_out_ends_the_session_everywhere(client, team, app):
    login(client, "fac")
    other_device = app.test_client()
    login(other_device, "fac")
    assert client.get("/logout").status_code == 405
    response = client.post("/logout", follow_redirects=True)
    assert "Anda sudah keluar." in response.text
    assert client.get("/cases").status_code == 302
    assert other_device.get("/cases").status_code == 302


@pytest.mark.parametrize("key, age", [("_seen_at", 31 * 60), ("_signed_in_at", 13 * 3600)])
def test_idle_and_absolute_timeouts_end_the_session(client, team, key, age):
    login(client, "fac")
    assert client.get("/cases").status_code == 200
    with client.session_transaction() as session:
        session[key] = time.time() - age
        if key == "_signed_in_at":
            session["_seen_at"] = time.time()
    response = client.get("/cases")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert "Sesi Anda berakhir" in page.text
    assert client.get("/cases").status_code == 302


def test_timeouts_come_from_the_configuration(app_with, team):
    client = isolated_client(app_with(CASEFLOW_IDLE_TIMEOUT_MINUTES=1))
    login(client, "fac")
    with client.session_transaction() as session:
        session["_seen_at"] = time.time() - 90
    assert client.get("/cases").status_code == 302


def test_next_page_after_sign_in_stays_on_this_site(client, team):
    response = client.post("/login", data={"username": "fac", "password": PASSWORD,
                                           "next": "//evil.example/steal"})
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post("/login", data={"username": "fac", "password": PASSWORD,
                                           "next": "/clients/new"})
    assert response.headers["Location"] == "/clients/new"


@pytest.mark.parametrize("target", [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\r/evil.example", "\t//evil.example",
    "/ /evil.example", "/\\evil.example", "https://evil.example", "///evil.example", "/\x7f/evil.example",
])
def test_a_next_page_that_a_browser_reads_as_another_site_is_ignored(client, team, target):
    """Browsers drop tabs and newlines from an address (`/<TAB>/host` is `//host`), and a
    newline cannot go into a Location header at all: such a `next` leads home."""
    form = client.get("/login", query_string={"next": target})
    assert form.status_code == 200 and "evil.example" not in form.text
    response = client.post("/login", data={"username": "fac", "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_the_way_back_after_a_form_never_leaves_the_site(client, team):
    login(client, "fac")
    for target in ("/\t/evil.example", "/\n/evil.example"):
        response = client.post("/language", data={"locale": "en", "next": target})
        assert response.status_code == 303
        assert "evil.example" not in response.headers["Location"]
    response = client.post("/language", data={"locale": "id"},
                           headers={"Referer": "http://localhost/\t/evil.example"})
    assert "evil.example" not in response.headers["Location"]


def test_language_switch_is_remembered_on_the_account_and_audited(client, team, app):
    login(client, "fac")
    response = client.post("/language", data={"locale": "en"}, headers={"Referer": "http://localhost/cases"})
    assert response.status_code == 303 and response.headers["Location"] == "http://localhost/cases"
    page = client.get("/cases")
    assert 'lang="en"' in page.text and "My cases" in page.text
    db.session.rollback()  # see what the requests committed
    db.session.expire_all()
    assert db.session.get(User, team.facilitator.id).locale == "en"
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "user.locale_changed")
    ).scalar_one()
    assert event.before == {"locale": "id"} and event.after == {"locale": "en"}
    # Another device, the same person: English again.
    tablet = app.test_client()
    login(tablet, "fac")
    assert "My cases" in tablet.get("/cases").text


def test_language_switch_before_sign_in_and_bad_choice(client, team):
    assert client.post("/language", data={"locale": "en"}).status_code == 303
    assert "Username" in client.get("/login").text
    assert client.post("/language", data={"locale": "fr"}).status_code == 303
    assert "Choose Indonesian or English." in client.get("/login").text


@pytest.fixture
def csrf_client(app_with):
    app = app_with(WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=True)
    with app.app_context():
        yield isolated_client(app)


def test_forms_without_a_csrf_token_are_refused(csrf_client, team):
    refused = csrf_client.post("/login", data={"username": "fac", "password": PASSWORD},
                               base_url="https://localhost")
    assert refused.status_code == 400
    assert "Formulir kedaluwarsa" in refused.text
    page = csrf_client.get("/login", base_url="https://localhost")
    # Over HTTPS the referrer must be this site too (the pages send it: same-origin policy).
    accepted = csrf_client.post("/login", base_url="https://localhost", data={
        "username": "fac", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        headers={"Referer": "https://localhost/login"})
    assert accepted.status_code == 302
    assert csrf_client.post("/logout", base_url="https://localhost").status_code == 400



def test_pages_carry_the_token_flask_wtf_makes_and_checks(app, monkeypatch):
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1764700000)
    for raw in ("a" * 40, "b" * 40, "a" * 40):  # a session's payload is remembered: still its own
        with app.test_request_context("/"):
            g.pop("csrf_token", None)  # the test's application context outlives its requests
            session["csrf_token"] = raw
            ours = render_template_string("{{ csrf_token() }}")
            assert app.jinja_env.globals["csrf_token"]() == ours  # once per request
            del g.csrf_token
            assert generate_csrf() == ours
            validate_csrf(ours)
    with app.test_request_context("/"):  # a session without one gets one, as with Flask-WTF
        g.pop("csrf_token", None)
        token = render_template_string("{{ csrf_token() }}")
        assert len(session["csrf_token"]) == 40
        validate_csrf(token)


def test_security_headers_and_cookie_flags(csrf_client, team):
    page = csrf_client.get("/login", base_url="https://localhost")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in page.text and "onclick" not in page.text and "style=" not in page.text
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    remembered = csrf_client.post("/login", base_url="https://localhost", headers={
        "Referer": "https://localhost/login"}, data={
        "username": "fac", "password": PASSWORD, "remember": "1", "csrf_token": csrf_token(page.text)})
    remember_cookie = next(c for c in remembered.headers.getlist("Set-Cookie") if c.startswith("remember_token"))
    assert "Secure" in remember_cookie and "HttpOnly" in remember_cookie


def test_hsts_is_sent_over_https_only(client, team):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    max_age = int(re.search(r"max-age=(\d+)", secure.headers["Strict-Transport-Security"]).group(1))
    assert max_age >= 365 * 24 * 3600
    assert "Strict-Transport-Security" in client.get("/static/css/app.css", base_url="https://localhost").headers


@pytest.mark.parametrize("proxies, https", [(0, False), (1, True)])
def test_a_proxy_is_believed_about_https_only_when_configured(app_with, proxies, https):
    app = app_with(CASEFLOW_TRUSTED_PROXIES=proxies)
    with app.app_context():
        page = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https",
                                                        "X-Forwarded-For": "203.0.113.1"})
        assert ("Strict-Transport-Security" in page.headers) is https
        db.engine.dispose()


def test_pages_and_api_answers_with_personal_data_are_never_stored(signed_in, team, make):
    """A shared tablet's back button, a browser cache or a proxy must not keep a case."""
    case = make.case(team.facilitator, to="assessment")
    facilitator, auditor = signed_in(team.facilitator), signed_in(team.auditor)
    for who, url in [
        (facilitator, "/cases"), (facilitator, f"/cases/{case.id}"), (facilitator, f"/api/v1/cases/{case.id}"),
        (facilitator, f"/api/v1/clients/{case.client_id}"), (facilitator, f"/api/v1/cases/{case.id}/steps"),
        (auditor, f"/audit/cases/{case.id}/history"), (auditor, "/audit/trail"),
        (auditor, f"/audit/clients/{case.client_id}/viewers"), (auditor, "/audit/cases"),
    ]:
        response = who.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    assert "no-store" not in facilitator.get("/static/css/app.css").headers.get("Cache-Control", "")


def test_an_expired_session_on_the_api_gets_401_problem_not_a_redirect(client, team):
    login(client, "fac")
    assert client.get("/api/v1/cases").status_code == 200
    with client.session_transaction() as session:
        session["_seen_at"] = time.time() - 31 * 60
    response = client.get("/api/v1/cases")
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_the_session_cookie_is_flasks_own_signed_and_checked_the_same_way(app, monkeypatch):
    """The faster signer makes the very cookie Flask would, reads cookies signed with a
    fallback key, and refuses one whose signature or content was changed."""
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface
    from itsdangerous import BadSignature

    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", ["an-older-key"])
    ours = app.session_interface.get_signing_serializer(app)
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    data = {"_user_id": "7:3", "_fresh": True, "when": b"\x00bytes", "nested": [1, {"a": (2, 3)}]}
    monkeypatch.setattr(time, "time", lambda: 1_796_283_384.0)
    cookie = ours.dumps(data)
    assert cookie == flasks.dumps(data)
    assert ours.make_signer(ours.salt) is ours.make_signer(ours.salt)  # made once, its derived keys kept
    assert ours.loads(cookie, max_age=60) == flasks.loads(cookie, max_age=60)
    older = Flask("older")
    older.secret_key = "an-older-key"
    assert ours.loads(SecureCookieSessionInterface().get_signing_serializer(older).dumps(data), max_age=60)
    payload, _sep, signature = cookie.rpartition(".")
    for forged in (payload + "." + signature[::-1], payload.replace(payload[5], "A" if payload[5] != "A" else "B", 1)
                   + "." + signature):
        with pytest.raises(BadSignature):
            ours.loads(forged, max_age=60)
    stranger = Flask("stranger")
    stranger.secret_key = "someone-elses-key"
    with pytest.raises(BadSignature):
        ours.loads(SecureCookieSessionInterface().get_signing_serializer(stranger).dumps(data), max_age=60)


def test_the_requests_user_is_read_in_one_statement_as_the_orm_would_make_it(app, team):
    """The signed-in user is read as a row and made into a User: persistent, clean and in
    the identity map like one the ORM loaded; what was not read (the password hash, the
    offline key) and its relationships are read when first used."""
    from sqlalchemy import inspect

    from caseflow.extensions import login_manager
    from tests.support.queries import statements

    facilitator = team.facilitator
    expected = db.session.execute(select(User.password_hash, User.supervisor_id, User.created_at)
                                  .where(User.id == facilitator.id)).one()
    session_id = f"{facilitator.id}:{facilitator.session_generation}"
    db.session.remove()
    with app.test_request_context("/cases"), statements() as seen:
        user = login_manager._user_callback(session_id)
        assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1
        state = inspect(user)
        assert state.persistent and not state.modified and user in db.session and not db.session.dirty
        assert db.session.get(User, facilitator.id) is user
        assert user.get_id() == session_id and user.role == "facilitator" and user.created_at == expected.created_at
        assert user.password_hash == expected.password_hash  # read now, with the offline key
        assert user.supervisor is not None and user.supervisor.id == expected.supervisor_id
        assert login_manager._user_callback(f"{facilitator.id}:{facilitator.session_generation + 1}") is None
        assert login_manager._user_callback("999999:0") is None
        assert login_manager._user_callback("not-an-id") is None
    db.session.remove()
