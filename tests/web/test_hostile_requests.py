"""Hostile input in the parts of a request no schema sees — the address, the query string,
form fields, headers, the JSON body's shape — gets a 4xx naming the parameter, never a 500
(PostgreSQL refuses NUL in text; a lone surrogate cannot be encoded; deep JSON exhausts
the decoder's recursion)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PASSWORD, a_step
from tests.web.conftest import IsolatedClient

PROBLEM = "application/problem+json"


@pytest.fixture
def world(make, team):
    return {"team": team, "case": make.case(team.facilitator, to="assessment")}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.mimetype == PROBLEM
    return response.get_json()


@pytest.mark.parametrize("query", ["q=%00", "q=a%00b", "state=%01", "category=%1B[31m", "%00=1"])
def test_a_control_character_in_the_query_string_is_named_on_the_page(signed_in, world, query):
    response = signed_in(world["team"].facilitator).get(f"/cases?{query}")
    assert response.status_code == 400
    name = query.split("=")[0].replace("%00", "?")
    assert f"“{name}”" in response.text and "tidak dapat digunakan" in response.text


def test_a_control_character_in_the_query_string_of_the_api_is_a_problem(signed_in, world):
    response = signed_in(world["team"].facilitator).get("/api/v1/cases?cursor=%00")
    body = _problem(response, 400)
    assert list(body["errors"]) == ["cursor"]
    unrouted = signed_in(world["team"].facilitator).get("/api/v1/nothing-here?x=%00")
    assert _problem(unrouted, 400)["errors"] == {"x": [body["errors"]["cursor"][0]]}


def test_a_nul_in_a_trigger_name_is_refused_in_the_address(signed_in, world):
    client = signed_in(world["team"].facilitator)
    case_id = world["case"].id
    page = client.post(f"/cases/{case_id}/actions/start%00planning", data={})
    assert page.status_code == 400 and "“trigger”" in page.text
    api = client.post(f"/api/v1/cases/{case_id}/transitions/%00", json={})
    assert _problem(api, 400)["errors"].keys() == {"trigger"}


def test_a_nul_in_the_sign_in_form_is_refused_before_the_database_sees_it(app, world):
    app.test_client_class = IsolatedClient
    response = app.test_client().post("/login", data={"username": "fac\x00", "password": PASSWORD})
    assert response.status_code == 400 and "“username”" in response.text


def test_a_nul_in_a_header_that_the_audit_trail_keeps_is_refused(app, world):
    app.test_client_class = IsolatedClient
    response = app.test_client().post("/login", data={"username": "fac", "password": PASSWORD},
                                      headers={"User-Agent": "tablet\x00"})
    assert response.status_code == 400 and "User-Agent" in response.text


def test_a_lone_surrogate_in_a_json_body_is_named(signed_in, world):
    body = json.dumps(a_step(notes="a\ud800b"))  # json.dumps writes it as the escape \ud800
    assert "\\ud800" in body
    response = signed_in(world["team"].facilitator).post(
        f"/api/v1/cases/{world['case'].id}/steps", data=body, content_type="application/json")
    assert _problem(response, 400)["errors"] == {"notes": ["Bukan teks yang valid."]}
    nested = json.dumps({"goals": [{"description": "x", "\udc00": "y"}]})
    response = signed_in(world["team"].facilitator).put(
        f"/api/v1/cases/{world['case'].id}/plan", data=nested, content_type="application/json")
    assert list(_problem(response, 400)["errors"]) == ["goals.0.?"]


@pytest.mark.parametrize("depth", [100_000, 40])
def test_deeply_nested_json_is_refused(signed_in, world, depth):
    body = "[" * depth + "]" * depth
    response = signed_in(world["team"].facilitator).post(
        f"/api/v1/cases/{world['case'].id}/steps", data=body, content_type="application/json")
    assert list(_problem(response, 400)["errors"]) == ["body"]


def test_a_nul_inside_a_json_value_is_still_named_by_the_schema(signed_in, world):
    response = signed_in(world["team"].facilitator).post(
        f"/api/v1/cases/{world['case'].id}/steps", json=a_step(notes="a\x00b"))
    assert list(_problem(response, 422)["errors"]) == ["notes"]


@pytest.mark.parametrize("page", ["²", "١", "1" * 400, "-1", "0", "1e3", " 2"])
@pytest.mark.parametrize("role, path", [
    ("facilitator", "/cases"), ("auditor", "/audit/cases"), ("admin", "/admin/users"),
])
def test_a_page_number_that_is_not_ascii_digits_shows_the_first_page(signed_in, team, role, path, page):
    user = {"facilitator": team.facilitator, "auditor": team.auditor, "admin": team.admin}[role]
    response = signed_in(user).get(path, query_string={"page": page})
    assert response.status_code == 200, (path, page)


def test_a_superscript_digit_in_a_numbered_form_field_is_not_a_500(signed_in, make, team):
    """'²'.isdigit() is true and int('²') fails: the plan, evaluation and token forms
    read numbers from field names and values."""
    case = make.case(team.facilitator, to="planning")
    client = signed_in(team.facilitator)
    plan = client.post(f"/cases/{case.id}/plan", data={
        "summary": "Rencana", "expected_version": "²", "goals-²-description": "x",
        "goals-0-id": "²", "goals-0-description": "Kembali sekolah"})
    assert plan.status_code == 422
    evaluation = client.post(f"/cases/{case.id}/evaluation", data={"ratings-²-goal": "1", "summary": "x"})
    assert evaluation.status_code < 500
    token = signed_in(team.facilitator).post("/tokens/", data={
        "name": "integrasi", "scopes": "cases:read", "expires_in_days": "²"})
    assert token.status_code == 422
