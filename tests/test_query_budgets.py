"""Query budgets: each main page and API endpoint sends a fixed number of SQL statements,
whatever the number of cases, clients, steps or audit events behind it (issue 14).

Each test asks for the page once with N rows behind it and once with 3N: both answers must
cost the same number of statements, at most the page's budget. A lazy load per row (an N+1)
makes the second count larger; a new query on every request shows up against the budget.
The first request of each client is not counted: it fills per-process caches (workflow
titles, reference data) that every later request of a worker finds ready.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import timedelta

import pytest

from caseflow.database import utcnow
from caseflow.services import api_tokens
from caseflow.services import cases as case_services
from caseflow.services.context import Actor
from tests.support.clients import isolated_client
from tests.support.factories import a_step
from tests.support.queries import fresh, statements

N = 2

# Statements per request. Each includes the signed-in user's row and, where the page is a
# read of one case, the read recorded in its audit chain.
# Since the supervisor's feedback landed every page also counts the unread notifications
# (one statement; a page with rows of its own may read it with them).
BUDGETS = {
    # What every signed-in request pays: the user with their province (and, for the
    # tablet's session question, their offline key) in one statement, plus SQLite's BEGIN.
    "start_page": 2,
    "api_session": 2,
    "my_cases": 3,  # the page: its rows joined to its ids, with the count and the notices' flags
    "client_list": 5,  # the page with its count in one statement, its cases in one
    "case_page": 8,  # the menu's count comes with the case's row
    "api_case_detail": 7,
    "api_log_step": 10,  # with a token; 9 with a session (SQLite BEGINs included)
    # Two steps (their keys reserved, then stored, together; no savepoint each), + the sync report.
    "api_outbox": 14,
    # The same, of visits done on an earlier day: + the sealed months read once for both
    # (PostgreSQL: + the sealing lock, taken once too).
    "api_outbox_earlier_days": 15,
    "sign_off_queue": 3,  # the requests as values with the menu's count (services/sign_off_queue.py)
    "team_page": 4,  # the team with its figures, sessions, sync and menu count (one statement); the requests
    "audit_history": 9,  # the read recorded; actors with the counts; the page (+ goals, earlier cases if named)
    # A move with an idempotency key; PostgreSQL counts 7 (no BEGIN statements; the move's
    # stays go in its case's UPDATE).
    "api_transition": 11,
}


def _cost(client, method: str, url: str, **kwargs) -> int:
    with statements() as seen:
        response = client.open(url, method=method, **kwargs)
    if os.environ.get("CASEFLOW_SHOW_QUERIES"):
        print(f"\n--- {method} {url}: {len(seen)}", *(" ".join(q.split())[:160] for q in seen), sep="\n")
    assert response.status_code < 400, (url, response.status_code, response.get_data(as_text=True)[:500])
    return len(seen)


def _same_cost(name: str, measure, grow) -> None:
    """`measure()` costs the same with N rows and with 3N rows (grow(2N) in between), and no
    more than the page's budget."""
    measure()  # warms the worker's caches
    small = measure()
    grow(2 * N)
    large = measure()
    assert small == large, f"{name}: {small} statements with {N} rows, {large} with {3 * N}"
    assert large <= BUDGETS[name], f"{name}: {large} statements, budget {BUDGETS[name]}"


def _log_steps(facilitator, case, count: int) -> None:
    for _ in range(count):
        case_services.log_step(Actor(user=facilitator), case.id, a_step())


def _same_cost_as_rows_grow(name: str, signed_in, viewer, path: str, add_row, first=None) -> None:
    """GET `path` as `viewer` costs the same with N rows behind it and with 3N; `add_row(i)`
    adds the i-th (`first(i)` the first N, when they differ)."""
    for i in range(N):
        (first or add_row)(i)
    client = signed_in(viewer)

    def grow(count):
        for i in range(count):
            add_row(i)

    _same_cost(name, lambda: _cost(client, "GET", path), grow)


def _same_cost_as_steps_grow(name: str, signed_in, viewer, team, make, path: str) -> None:
    """GET `path` (`{case}`: a case in intervention) as `viewer` costs the same with N steps
    logged on the case and with 3N."""
    case = make.case(team.facilitator, to="intervention")
    _same_cost_as_rows_grow(name, signed_in, viewer, path.format(case=case.id),
                            lambda _i: _log_steps(team.facilitator, case, 1))


def test_my_cases(signed_in, team, make):
    states = ["intervention", "termination_review", "assessment"]
    _same_cost_as_rows_grow("my_cases", signed_in, team.facilitator, "/cases",
                            lambda i: make.case(team.facilitator, to=states[i % 3]))


def test_my_cases_as_supervisor_shows_facilitators(signed_in, team, make):
    _same_cost_as_rows_grow(
        "my_cases", signed_in, team.supervisor, "/cases",
        lambda i: make.case(team.facilitator2 if i % 2 else team.facilitator, to="termination_review"),
        first=lambda _i: make.case(team.facilitator, to="intervention"))


def test_client_list(signed_in, team, make):
    _same_cost_as_rows_grow(
        "client_list", signed_in, team.facilitator, "/clients",
        lambda i: make.client(team.facilitator) if i % 2 else make.case(team.facilitator, to="assessment"),
        first=lambda _i: make.case(team.facilitator, to="intervention"))


def test_case_page(signed_in, team, make):
    _same_cost_as_steps_grow("case_page", signed_in, team.facilitator, team, make, "/cases/{case}")


def test_case_page_as_supervisor(signed_in, team, make):
    _same_cost_as_steps_grow("case_page", signed_in, team.supervisor, team, make, "/cases/{case}")


def test_case_page_of_a_request_waiting_for_a_decision(signed_in, team, make):
    """A case waiting for a decision also reads its requests and the evaluation's ratings
    (two statements); who asked, who decides and by when come with them, for the
    supervisor who decides as for the facilitator who asked."""
    case = make.case(team.facilitator, to="termination_review")
    costs = {}
    for viewer in (team.supervisor, team.facilitator):
        client = signed_in(viewer)
        _cost(client, "GET", f"/cases/{case.id}")  # warms the worker's caches
        costs[viewer.role] = (_cost(client, "GET", f"/cases/{case.id}"),
                              _cost(client, "GET", f"/api/v1/cases/{case.id}"))
    assert costs["supervisor"] == costs["facilitator"], costs
    page, detail = costs["supervisor"]
    assert page <= BUDGETS["case_page"] + 2 and detail <= BUDGETS["api_case_detail"] + 2, costs


def test_the_signed_in_requests_own_statements(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    client = signed_in(team.facilitator)

    def grow(count):
        _log_steps(team.facilitator, case, count)

    _same_cost("start_page", lambda: _cost(client, "GET", "/"), grow)
    _same_cost("api_session", lambda: _cost(client, "GET", "/api/v1/session"), grow)


def test_api_case_detail(signed_in, team, make):
    _same_cost_as_steps_grow("api_case_detail", signed_in, team.facilitator, team, make, "/api/v1/cases/{case}")


def test_api_log_step(signed_in, team, make):
    case = make.case(team.facilitator, to="intervention")
    _log_steps(team.facilitator, case, N)
    client = signed_in(team.facilitator)

    def measure():
        headers = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": f'"{fresh(case).version}"'}
        return _cost(client, "POST", f"/api/v1/cases/{case.id}/steps", json=a_step_of_today(), headers=headers)

    _same_cost("api_log_step", measure, lambda count: _log_steps(team.facilitator, case, count))


def test_api_log_step_with_a_token(app, team, make):
    case = make.case(team.facilitator, to="intervention")
    _log_steps(team.facilitator, case, N)
    _token, secret = api_tokens.create_token(
        Actor(user=team.facilitator), {"name": "budget", "scopes": ["cases:read", "cases:write"], "expires_in_days": 30})
    client, auth = isolated_client(app), {"Authorization": f"Bearer {secret}"}

    def measure():
        headers = auth | {"Idempotency-Key": str(uuid.uuid4()), "If-Match": f'"{fresh(case).version}"'}
        return _cost(client, "POST", f"/api/v1/cases/{case.id}/steps", json=a_step_of_today(), headers=headers)

    _same_cost("api_log_step", measure, lambda count: _log_steps(team.facilitator, case, count))


def a_step_of_today() -> dict:
    """A step done just now (UTC): the budgets do not depend on the hour the tests run at
    (a step of an earlier UTC day also asks whether its month is sealed)."""
    return a_step(occurred_at=utcnow().isoformat())


def a_step_of_yesterday() -> dict:
    return a_step(occurred_at=(utcnow() - timedelta(days=1)).replace(hour=12).isoformat())


@pytest.mark.parametrize("body", [a_step_of_today, a_step_of_yesterday], ids=["today", "earlier_days"])
def test_api_outbox(signed_in, team, make, body):
    first = make.case(team.facilitator, to="intervention")
    second = make.case(team.facilitator, to="intervention")
    _log_steps(team.facilitator, first, N)
    client = signed_in(team.facilitator)

    def measure():
        entries = [{"key": str(uuid.uuid4()), "kind": "step", "case_id": c.id, "body": body()}
                   for c in (first, second)]
        return _cost(client, "POST", "/api/v1/outbox", json={"entries": entries})

    def grow(count):
        _log_steps(team.facilitator, first, count)
        _log_steps(team.facilitator, second, count)

    _same_cost("api_outbox" if body is a_step_of_today else "api_outbox_earlier_days", measure, grow)


def test_sign_off_queue(signed_in, team, make):
    _same_cost_as_rows_grow(
        "sign_off_queue", signed_in, team.supervisor, "/team/sign-offs",
        lambda i: make.case(team.facilitator if i % 2 else team.facilitator2, to="termination_review"))


def test_team_page(signed_in, team, make):
    for _ in range(N):
        make.case(team.facilitator, to="intervention")
    make.case(team.facilitator, to="termination_review")  # a decision waiting from the start
    client = signed_in(team.supervisor)

    def grow(count):
        for i in range(count):
            make.case(team.facilitator2, to="termination_review" if i % 2 else "planning")
        make.user("facilitator", supervisor=team.supervisor)

    _same_cost("team_page", lambda: _cost(client, "GET", "/team"), grow)


def test_audit_history(signed_in, team, make):
    _same_cost_as_steps_grow("audit_history", signed_in, team.auditor, team, make, "/audit/cases/{case}/history")


def test_case_page_shows_the_latest_steps_and_pages_back(signed_in, team, make):
    """A long case: its page shows the latest steps and links to the older ones, each page
    at the same cost; the API's case detail pages back the same way."""
    case = make.case(team.facilitator, to="intervention")
    _log_steps(team.facilitator, case, case_services.STEP_PAGE_SIZE + 5)
    client = signed_in(team.facilitator)
    first = client.get(f"/cases/{case.id}")
    assert f"({case_services.STEP_PAGE_SIZE + 5})" in first.text
    assert first.text.count('<p class="step-notes">') == case_services.STEP_PAGE_SIZE
    older = re.search(r'href="(/cases/\d+\?before=[^"#]+)#steps"', first.text).group(1)
    second = client.get(older.replace("&amp;", "&"))
    assert second.text.count('<p class="step-notes">') == 5 and "?before=" not in second.text
    assert _cost(client, "GET", f"/cases/{case.id}") == _cost(client, "GET", older.replace("&amp;", "&"))

    detail = client.get(f"/api/v1/cases/{case.id}").get_json()
    assert len(detail["steps"]) == case_services.STEP_PAGE_SIZE and detail["step_count"] == 25
    assert detail["steps"][0]["occurred_at"] <= detail["steps"][-1]["occurred_at"]
    rest = client.get(f"/api/v1/cases/{case.id}", query_string={"steps_before": detail["older_steps"]}).get_json()
    assert len(rest["steps"]) == 5 and rest["older_steps"] is None
    assert {s["id"] for s in rest["steps"]}.isdisjoint({s["id"] for s in detail["steps"]})
    refused = client.get(f"/api/v1/cases/{case.id}", query_string={"steps_before": "nonsense"})
    assert refused.status_code == 400 and "steps_before" in refused.get_json()["errors"]


def test_api_transition(signed_in, team, make):
    client = signed_in(team.facilitator)

    def measure():
        case = make.case(team.facilitator)
        headers = {"Idempotency-Key": str(uuid.uuid4()), "If-Match": f'"{case.version}"'}
        return _cost(client, "POST", f"/api/v1/cases/{case.id}/transitions/start_assessment", json={},
                     headers=headers)

    def grow(count):
        for _ in range(count):
            _log_steps(team.facilitator, make.case(team.facilitator, to="intervention"), 2)

    _same_cost("api_transition", measure, grow)
