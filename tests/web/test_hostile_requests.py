"""Hostile input in the parts of a request no schema sees — the address, the query string,
form fields, headers, the JSON body's shape — gets a 4xx naming the parameter, never a 500
(PostgreSQL refuses NUL in text; a lone surrogate cannot be encoded; deep JSON exhausts
the decoder's recursion)."""

from __future__ import annotations

import json
import re
from datetime import date
from urllib.parse import quote

import pytest
from flask import Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import ImmutableMultiDict

from caseflow import RowIdConverter
from tests.support.clients import IsolatedClient
from tests.support.factories import PASSWORD, a_step

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


# --- every GET route, as every role, with hostile query strings and path parameters ------

# As they travel in an address (percent-encoded): NUL, a control character, an encoded
# surrogate (invalid UTF-8), '²' and an Arabic-Indic one, numbers beyond any column, dates
# beyond any calendar, CR/LF, markup, quotes and a long string.
HOSTILE_VALUES = [
    "%00", "%01", "%ED%A0%80", "%C2%B2", "%D9%A1", "99999999999999999999", "-1", "0001-01-01",
    "9999-12-31T23:59:59", "%0D%0ALocation:%20//evil.example", "%3Cscript%3E%27%22", "x" * 3000,
]
# Read by many pages; offered to every HTML page besides what the page itself was seen to read.
COMMON_PARAMETERS = ("page", "q", "next", "cursor", "limit", "from", "until", "start", "end")


class _ReadArgs(ImmutableMultiDict):
    """The query-string parameters a view looks at, noted as it reads them."""

    def __getitem__(self, key):
        READ.add(key)
        return super().__getitem__(key)

    def getlist(self, key, type=None):  # noqa: A002 (werkzeug's name)
        READ.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        READ.add(key)
        return super().__contains__(key)


READ: set[str] = set()


class _NotingRequest(Request):
    parameter_storage_class = _ReadArgs


def _routes(app):
    return sorted((rule for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and rule.endpoint != "static"), key=lambda rule: rule.rule)


def _path(rule, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule)


ROLES = ("facilitator", "supervisor", "auditor", "programme_manager", "admin")


@pytest.fixture
def everyone(make, team):
    case = make.case(team.facilitator, to="termination_review")
    ids = {"case_id": case.id, "client_id": case.client_id, "user_id": team.facilitator.id,
           "sign_off_id": case.sign_offs[0].id}
    roles = {"facilitator": team.facilitator, "supervisor": team.supervisor, "auditor": team.auditor,
             "programme_manager": team.manager, "admin": team.admin}
    return ids, roles


@pytest.mark.parametrize("role", ROLES)
def test_no_get_route_answers_hostile_query_strings_or_path_parameters_with_a_5xx(app, signed_in, everyone, role):
    """Each GET route as each role (one test per role, so the roles run side by side): first
    plainly (noting which parameters the view reads), then with every hostile value in all of
    them at once, and in each text path parameter. A role the page refuses (401/403/404) is
    tried with a NUL only: the refusal comes first."""
    ids, roles = everyone
    app.request_class = _NotingRequest
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = signed_in(roles[role])
    failures, tried, seen_ok = [], 0, 0

    def get(url: str) -> int:
        nonlocal tried
        tried += 1
        response = client.get(url)
        if response.status_code >= 500:
            failures.append(f"{role} GET {url[:160]} → {response.status_code}")
        return response.status_code

    for rule in _routes(app):
        plain = {name: str(ids.get(name, 1)) if isinstance(conv, RowIdConverter) else "x"
                 for name, conv in rule._converters.items()}
        text_parameters = [name for name, conv in rule._converters.items() if not isinstance(conv, RowIdConverter)]
        READ.clear()
        status = get(_path(rule, plain))
        seen_ok += status < 400
        names = set(READ)
        if not rule.rule.startswith("/api/"):
            names |= set(COMMON_PARAMETERS)  # the API refuses unknown parameters first
        refused = status in (401, 403, 404)
        for value in HOSTILE_VALUES[:1] if refused else HOSTILE_VALUES:
            if names:
                get(_path(rule, plain) + "?" + "&".join(f"{n}={value}" for n in sorted(names)))
            for name in text_parameters:
                get(_path(rule, plain | {name: value or "%20"}))
    assert not failures, "\n".join(failures)
    # Each role tries 365-728 addresses and sees 23-64 plain pages (2,661 and 215 in all).
    assert tried > 300 and seen_ok > 20, (tried, seen_ok)
    print(f"{role}: {tried} requests, {seen_ok} plain ones answered")


_GENERATED_VALUES = st.one_of(
    st.text(max_size=40), st.from_regex(r"\A[0-9]{1,30}\Z"), st.dates().map(date.isoformat),
    st.sampled_from(["²", "\x00", "\r\n", "\ud800x"]))


def _generated_queries(client, path: str, names: list[str], failures: list[str]) -> None:
    @given(query=st.dictionaries(st.sampled_from(names), _GENERATED_VALUES, min_size=1))
    @settings(max_examples=6, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(query):
        encoded = "&".join(f"{quote(k)}={quote(v, errors='surrogatepass')}" for k, v in query.items())
        response = client.get(f"{path}?{encoded}")
        if response.status_code >= 500:
            failures.append(f"GET {path}?{encoded[:160]} → {response.status_code}")

    check()


@pytest.mark.parametrize("half", (0, 1))
def test_generated_query_strings_on_every_page_that_reads_one(app, signed_in, everyone, half):
    """Property run (Hypothesis, derandomised): for each GET route, as the first role that
    may open it, a few generated query strings over the parameters the view reads — any
    Unicode text, long digit strings, dates — answer below 500. Every other route in each
    `half` (two tests, so they run side by side)."""
    ids, roles = everyone
    app.request_class = _NotingRequest
    app.config["PROPAGATE_EXCEPTIONS"] = False
    clients = {role: signed_in(user) for role, user in roles.items()}
    failures, pages = [], 0
    for rule in _routes(app)[half::2]:
        plain = {name: str(ids.get(name, 1)) if isinstance(conv, RowIdConverter) else "x"
                 for name, conv in rule._converters.items()}
        path = _path(rule, plain)
        for role in roles:
            READ.clear()
            if clients[role].get(path).status_code < 400 and READ:
                pages += 1
                _generated_queries(clients[role], path, sorted(READ), failures)
                break
    assert not failures, "\n".join(failures)
    assert pages >= 10, pages  # 17 and 14 pages (31 in all)
