"""Every route of the web application (and the JSON API's read side) × every role × whose record it is.

One table (ROUTES) says, for each route, the status each role gets on a record that is
its own, of the same team, of another team in the same province, or of another province
(relative to the facilitator `fac` of supervisor `sup`; the auditor's scope is province
91). The parametrized cases are generated from that table, and a test checks that the
table names every route the application has, so a new page cannot go unlisted.

Whatever is refused (403 / 404) must leave an "access.denied" audit event in the
refused person's chain, and change nothing.

Requests that are allowed carry input that is refused or changes nothing lasting, so all
cases share one database per backend (filled once per module: fast enough to list every
combination).
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from caseflow.database import utcnow
from caseflow.extensions import db
from caseflow.models import AuditEvent, Case
from caseflow.services.agenda import plan_visit
from caseflow.services.attachments import add_attachment
from caseflow.services.context import Actor
from caseflow.services.referrals import send_referral
from tests.support.apps import BACKENDS
from tests.support.clients import IsolatedClient, login
from tests.support.factories import PASSWORD, Factory

ROLES = ("facilitator", "supervisor", "auditor", "manager", "admin")
RELATIONS = ("own", "team", "other_team", "other_province")
API_PREFIX = "/api/"

# Blueprints whose routes the table must cover (the web application's HTML pages).
COVERED_BLUEPRINTS = {"main", "auth", "cases", "supervision", "audit", "monitoring", "admin", "evidence",
                      "reports", "exports", "clients", "referrals", "aftercare", "agenda", "targets", "ops",
                      "ops_admin", "feedback", "handover", "supervision_sessions"}
NO_SUCH_JOB = "0" * 32  # export jobs are their owner's only (tests/reports/test_export_jobs.py)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {case} {client} {sign_off} {referral} {visit} {attachment} {user} {supervisor} are filled per record
    expect: dict[str, str]  # role → "200" (any record) or "200 404 404 404" (own team other_team other_province)
    data: dict | None = None

    def statuses(self, role: str) -> dict[str, int]:
        """{relation: status}; routes about no case record have the one relation "any"."""
        codes = [int(c) for c in self.expect[role].split()]
        if not _per_record(self.path):
            if len(codes) != 1:
                raise ValueError(f"{self.path}: one status for {role}")
            return {"any": codes[0]}
        if len(codes) == 1:
            return dict.fromkeys(RELATIONS, codes[0])
        return dict(zip(RELATIONS, codes, strict=True))


def _per_record(path: str) -> bool:
    return any(k in path for k in ("{case}", "{client}", "{sign_off}", "{referral}", "{visit}", "{attachment}"))


def _spelt_out(method: str, path: str, expect: dict[str, str]) -> dict[str, str]:
    """`expect` for every role, its shorthands spelt out: `everyone` (each role not named),
    `case_readers` (that status for whoever may open the record — its facilitator, their
    supervisor, the province's auditor — and 404 for the others) and `case_facilitator`
    (that status for the record's facilitator, 403 for the others who may open it)."""
    readers, facilitator = expect.pop("case_readers", None), expect.pop("case_facilitator", None)
    if readers is not None:
        expect = {"facilitator": f"{readers} 404 404 404", "supervisor": f"{readers} {readers} 404 404",
                  "auditor": f"{readers} {readers} {readers} 404", "manager": "404", "admin": "404"} | expect
    if facilitator is not None:
        expect = {"facilitator": f"{facilitator} 404 404 404", "supervisor": "403 403 404 404",
                  "auditor": "403 403 403 404", "manager": "404", "admin": "404"} | expect
    if "everyone" in expect:
        expect = dict.fromkeys(ROLES, expect.pop("everyone")) | expect
    missing = set(ROLES) - set(expect)
    if missing:
        raise ValueError(f"{method} {path}: no expectation for {sorted(missing)}")
    return expect


def R(method: str, path: str, data: dict | None = None, **expect: str) -> Route:
    return Route(method, path, _spelt_out(method, path, expect), data)


# Statuses: 200 page · 302/303 redirect (a landing page, or a refused action sent back with
# its message) · 401 refused sign-in · 403 role may not · 404 not theirs (looks like nothing)
# · 409 · 422 refused input named at its field.
ROUTES: list[Route] = [
    # --- main and auth
    R("GET", "/", everyone="302"),
    R("GET", "/healthz", everyone="200"),
    R("GET", "/login", everyone="302"),
    R("POST", "/login", {"username": "nobody", "password": "x"}, everyone="302"),
    R("POST", "/language", {"locale": "xx"}, everyone="303"),
    R("POST", "/logout", everyone="302"),
    R("GET", "/account/password", everyone="200"),
    R("POST", "/account/password", {"current_password": ""}, everyone="422"),
    # --- the facilitator's pages and the case page (web core)
    R("GET", "/cases", facilitator="200", supervisor="200", auditor="200", manager="403", admin="403"),
    R("GET", "/clients/new", facilitator="200", supervisor="200", auditor="403", manager="403", admin="403"),
    R("POST", "/clients/new", {"full_name": ""}, facilitator="422", supervisor="422", auditor="403",
      manager="403", admin="403"),
    R("GET", "/clients/{client}/open-case", facilitator="200 200 404 404", supervisor="200 200 404 404",
      auditor="403", manager="403", admin="403"),
    R("POST", "/clients/{client}/open-case", {"ppks_category_code": "P99"},
      facilitator="422 422 404 404", supervisor="422 422 404 404", auditor="403", manager="403", admin="403"),
    R("GET", "/cases/{case}", case_readers="200"),
    R("POST", "/cases/{case}/assessment", {"risk_level": "extreme"}, case_readers="422"),
    R("POST", "/cases/{case}/plan", {"summary": ""}, case_facilitator="303"),
    R("POST", "/cases/{case}/evaluation", {"summary": ""}, case_facilitator="303"),
    R("POST", "/cases/{case}/evaluation/submit", {"next": "celebrate"}, case_readers="422"),
    R("POST", "/cases/{case}/termination", {"outcome": "maybe"}, case_readers="422"),
    R("POST", "/cases/{case}/actions/no_such_trigger", {}, case_readers="303"),
    R("GET", "/cases/{case}/steps/new", case_facilitator="200"),
    R("POST", "/cases/{case}/steps/new", {"step_type": "dance"}, case_facilitator="422"),
    # --- clients, aftercare and referrals (the loop between the people)
    R("GET", "/clients", facilitator="200", supervisor="200", auditor="403", manager="403", admin="403"),
    # A facilitator sees their team's clients too (issue 19: a client a colleague registered is not lost).
    R("GET", "/clients/{client}", facilitator="200 200 404 404", supervisor="200 200 404 404",
      auditor="403", manager="403", admin="403"),
    R("GET", "/aftercare", facilitator="200", supervisor="200", auditor="403", manager="403", admin="403"),
    R("GET", "/referrals", facilitator="200", supervisor="200", auditor="403", manager="403", admin="403"),
    R("GET", "/cases/{case}/referrals/new", case_facilitator="200"),
    R("POST", "/cases/{case}/referrals/new", {"destination_type": "dukun"}, case_facilitator="422"),
    R("GET", "/referrals/{referral}", case_readers="200"),
    R("POST", "/referrals/{referral}", {"status": "lost"}, case_readers="422"),
    R("GET", "/referrals/{referral}/letter.pdf", case_readers="200", manager="403", admin="403"),
    R("GET", "/reports/referrals/referrals_sent", facilitator="200", supervisor="200", auditor="200",
      manager="403", admin="403"),
    R("GET", "/reports/referrals/referrals_overdue.csv", facilitator="200", supervisor="200", auditor="200",
      manager="403", admin="403"),
    # The route table's stand-in figure ('resolved') is no referral figure: nothing there.
    R("GET", "/reports/referrals/resolved", everyone="404"),
    R("GET", "/reports/referrals/resolved.csv", everyone="404"),
    # --- the agenda and planned visits
    R("GET", "/agenda", facilitator="200", supervisor="200", auditor="403", manager="403", admin="403"),
    R("GET", "/agenda/team", supervisor="200", everyone="403"),
    R("GET", "/agenda/settings", facilitator="200", supervisor="200", auditor="403", manager="403", admin="403"),
    R("POST", "/agenda/settings", {}, facilitator="303", supervisor="303", auditor="403", manager="403",
      admin="403"),
    R("POST", "/agenda/settings/feed", facilitator="200", supervisor="200", auditor="403", manager="403",
      admin="403"),
    R("POST", "/agenda/settings/feed/revoke", facilitator="303", supervisor="303", auditor="403",
      manager="403", admin="403"),
    # The calendar feed has no session: the secret address is the key, and this one opens nothing.
    R("GET", f"/calendar/{NO_SUCH_JOB}.ics", everyone="404"),
    R("GET", "/cases/{case}/visits/new", case_facilitator="200"),
    R("POST", "/cases/{case}/visits/new", {"step_type": "dance"}, case_facilitator="422"),
    R("POST", "/visits/{visit}/cancel", {"reason": ""}, case_facilitator="303"),
    # --- work targets ({user} is the facilitator `fac`; other teams: tests/web/test_targets_pages.py)
    R("GET", "/targets", facilitator="200", supervisor="200", auditor="403", manager="200", admin="403"),
    R("POST", "/targets/defaults", {"target": "x"}, manager="422", everyone="403"),
    R("GET", "/targets/facilitators/{user}", facilitator="200", supervisor="200", auditor="403",
      manager="403", admin="403"),
    R("POST", "/targets/facilitators/{user}", {"measure": "x"}, supervisor="422", everyone="403"),
    # A digest of other figures signs nothing: back to the report with the message.
    R("POST", "/targets/facilitators/{user}/sign", {"digest": ""}, supervisor="303", everyone="403"),
    R("GET", "/targets/facilitators/{user}/report.csv", facilitator="200", supervisor="200", auditor="403",
      manager="403", admin="403"),
    # --- supervisor
    R("GET", "/team", supervisor="200", everyone="403"),
    R("GET", "/team/sign-offs", supervisor="200", everyone="403"),
    R("GET", "/team/sign-offs/{sign_off}", supervisor="200 200 404 404", everyone="403"),
    R("POST", "/team/sign-offs/{sign_off}", {"decision": "later"}, supervisor="422 422 404 404", everyone="403"),
    R("GET", "/team/cases/{case}/reassign", supervisor="200 200 404 404", everyone="403"),
    R("POST", "/team/cases/{case}/reassign", {"reason": ""}, supervisor="422 422 404 404", everyone="403"),
    R("GET", "/team/overdue", supervisor="200", everyone="403"),
    R("GET", "/team/late-work", supervisor="200", everyone="403"),
    # --- supervision sessions and their action points
    R("GET", "/supervision", facilitator="200", supervisor="200", everyone="403"),
    R("GET", "/supervision/new", supervisor="200", everyone="403"),
    R("POST", "/supervision/new", {"step": "save", "kind": "group"}, supervisor="422", everyone="403"),
    R("GET", "/supervision/999999", facilitator="404", supervisor="404", everyone="403"),
    R("POST", "/action-points/999999/done", everyone="404"),
    # --- handing a facilitator's cases over ({user} is the facilitator `fac` of `sup`)
    R("GET", "/facilitators/{user}/handover", supervisor="200", admin="200", everyone="403"),
    R("POST", "/facilitators/{user}/handover", {"step": "preview"}, supervisor="422", admin="422",
      everyone="403"),
    R("POST", "/facilitators/{user}/handover", {"step": "confirm", "reason": ""}, supervisor="422",
      admin="422", everyone="403"),
    # --- auditor
    R("GET", "/audit/cases", auditor="200", everyone="403"),
    R("GET", "/audit/cases/{case}/history", auditor="200 200 200 404", everyone="403"),
    R("GET", "/audit/trail", auditor="200", everyone="403"),
    R("GET", "/audit/integrity", auditor="200", everyone="403"),
    R("POST", "/audit/integrity", {"case_number": "00-0000-000000"}, auditor="422", everyone="403"),
    R("GET", "/audit/evidence", auditor="200", everyone="403"),
    R("POST", "/audit/evidence/case", {"case_number": "00-0000-000000"}, auditor="422", everyone="403"),
    R("POST", "/audit/evidence/facilitator", {"facilitator_id": "x"}, auditor="422", everyone="403"),
    R("GET", "/audit/public-key.pem", auditor="200", everyone="403"),
    R("GET", "/audit/evidence/verify", auditor="200", everyone="403"),
    R("POST", "/audit/evidence/verify", {}, auditor="422", everyone="403"),
    R("GET", "/audit/clients/{client}/viewers", auditor="200 200 200 404", everyone="403"),
    R("GET", "/audit/account-changes", auditor="200", everyone="403"),
    # --- programme manager
    R("GET", "/monitoring", manager="200", everyone="403"),
    # --- monitoring dashboards (figures for every case reader and the programme manager)
    R("GET", "/reports/", facilitator="200", supervisor="200", auditor="200", manager="200", admin="403"),
    R("GET", "/reports/monthly.pdf", facilitator="200", supervisor="200", everyone="403"),
    R("GET", "/reports/monthly.xlsx", facilitator="200", supervisor="200", everyone="403"),
    R("GET", "/reports/export.csv", facilitator="200", supervisor="200", auditor="200", manager="200",
      admin="403"),
    R("GET", "/reports/cases/resolved", facilitator="200", supervisor="200", auditor="200", manager="403",
      admin="403"),
    R("GET", "/reports/cases/resolved.csv", facilitator="200", supervisor="200", auditor="200",
      manager="403", admin="403"),
    R("GET", "/reports/case/{case}/file.pdf", case_readers="200", manager="403", admin="403"),
    # The cases here wait for the decision: whoever may see the case is told there is no
    # report yet (sent back with the message); the others find nothing.
    R("GET", "/reports/case/{case}/termination.pdf", case_readers="303", manager="403", admin="403"),
    R("GET", f"/reports/exports/{NO_SUCH_JOB}", facilitator="404", supervisor="404", auditor="404",
      manager="403", admin="403"),
    R("GET", f"/reports/exports/{NO_SUCH_JOB}/status.json", facilitator="404", supervisor="404",
      auditor="404", manager="403", admin="403"),
    R("GET", f"/reports/exports/{NO_SUCH_JOB}/file", facilitator="404", supervisor="404", auditor="404",
      manager="403", admin="403"),
    R("POST", f"/reports/exports/{NO_SUCH_JOB}/delete", {}, facilitator="404", supervisor="404",
      auditor="404", manager="403", admin="403"),
    # --- JSON API, read side, with the browser session (writes: tests/api)
    # Programme managers and administrators hold no case content: an empty list, no record.
    R("GET", "/api/v1/cases", everyone="200"),
    R("GET", "/api/v1/cases/{case}", case_readers="200"),
    R("GET", "/api/v1/cases/{case}/actions", case_readers="200"),
    R("GET", "/api/v1/cases/{case}/steps", case_readers="200"),
    R("GET", "/api/v1/cases/{case}/audit-events", case_readers="200"),
    R("GET", "/api/v1/clients/{client}", facilitator="200 200 404 404", supervisor="200 200 404 404",
      auditor="200 200 200 404", manager="404", admin="404"),
    R("GET", "/api/v1/clients", everyone="200"),  # a facilitator's or a team's clients (none for others)
    R("GET", "/api/v1/clients/{client}/cases", facilitator="200 200 404 404", supervisor="200 200 404 404",
      auditor="200 200 200 404", manager="404", admin="404"),
    R("GET", "/api/v1/cases/{case}/aftercare", case_readers="200"),
    # Photos, documents and signatures (issue 15): exactly those who may open the case.
    R("GET", "/api/v1/cases/{case}/attachments", case_readers="200"),
    R("GET", "/api/v1/attachments/{attachment}", case_readers="200"),
    R("GET", "/api/v1/cases/{case}/referrals", case_readers="200"),
    R("GET", "/api/v1/referrals", everyone="200"),
    R("GET", "/api/v1/referrals/{referral}", case_readers="200"),
    R("GET", "/api/v1/sign-offs", everyone="200"),  # the requests this person may decide (often none)
    R("GET", "/api/v1/agenda", facilitator="200", supervisor="200", auditor="403", manager="403", admin="403"),
    R("GET", "/api/v1/agenda/team", supervisor="200", everyone="403"),
    R("GET", "/api/v1/targets", facilitator="200", supervisor="200", auditor="403", manager="200", admin="403"),
    R("GET", "/api/v1/sign-offs/{sign_off}/earlier-rejections", case_readers="200"),
    R("GET", "/api/v1/cases/{case}/action-points", case_readers="200"),
    R("GET", "/api/v1/notifications", everyone="200"),
    R("GET", "/api/v1/supervision/sessions", everyone="200"),  # held or attended (none for others)
    R("GET", "/api/v1/reference/provinces", everyone="200"),
    R("GET", "/api/v1/reference/ppks-categories", everyone="200"),
    # --- administrator
    R("GET", "/admin/users", admin="200", everyone="403"),
    R("GET", "/admin/users/new", admin="200", everyone="403"),
    R("POST", "/admin/users/new", {"username": ""}, admin="422", everyone="403"),
    R("GET", "/admin/users/{user}", admin="200", everyone="403"),
    R("POST", "/admin/users/{user}", {"full_name": ""}, admin="422", everyone="403"),
    R("POST", "/admin/users/{user}/active", {"active": "0"}, admin="422", everyone="403"),
    R("GET", "/admin/users/{supervisor}/team", admin="200", everyone="403"),
    R("POST", "/admin/users/{supervisor}/team", {"facilitator_ids": "x"}, admin="422", everyone="403"),
    R("GET", "/admin/changes", admin="200", everyone="403"),
    R("GET", "/admin/tasks", admin="200", everyone="403"),
    R("GET", "/readyz", everyone="200"),
    R("GET", "/metrics", everyone="404"),  # no CASEFLOW_METRICS_TOKEN: nothing there
    R("POST", "/admin/changes/999999/confirm", admin="404", everyone="403"),
    R("POST", "/admin/changes/999999/reject", {"reason": "x"}, admin="404", everyone="403"),
]


# --- the shared database ---------------------------------------------------------------


class World:
    """The people and records every case of the matrix uses."""


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    """The session's application of the backend, on a database filled for the module."""
    shared = request.getfixturevalue(f"shared_{request.param}")
    shared.reset_database()
    with shared.serving(tmp_path_factory.mktemp("matrix")) as app:
        yield _fill(app, request.param)


def _fill(app, backend: str) -> World:
    app.test_client_class = IsolatedClient
    with app.app_context():
        make = Factory(app)
        w = World()
        w.app = app
        w.backend = backend
        w.sup = make.user("supervisor", province="91", username="sup")
        w.fac = make.user("facilitator", province="91", supervisor=w.sup, username="fac")
        w.fac2 = make.user("facilitator", province="91", supervisor=w.sup, username="fac2")
        w.sup_b = make.user("supervisor", province="91", username="sup.b")
        w.fac_b = make.user("facilitator", province="91", supervisor=w.sup_b, username="fac.b")
        w.sup_ntt = make.user("supervisor", province="53", username="sup.ntt")
        w.fac_ntt = make.user("facilitator", province="53", supervisor=w.sup_ntt, username="fac.ntt")
        people = {
            "facilitator": w.fac,
            "supervisor": w.sup,
            "auditor": make.user("auditor", province="91", scope="91", username="aud.papua"),
            "manager": make.user("programme_manager", province="31", username="manager"),
            "admin": make.user("admin", province="31", username="adm"),
        }
        # Cases waiting for a sign-off: every page of the case and of the request exists.
        owners = {"own": w.fac, "team": w.fac2, "other_team": w.fac_b, "other_province": w.fac_ntt}
        supervisors = {"own": w.sup, "team": w.sup, "other_team": w.sup_b, "other_province": w.sup_ntt}
        w.cases = {}
        for relation, owner in owners.items():
            case = make.case(owner, to="termination_review", supervisor=supervisors[relation])
            referral = send_referral(Actor(user=owner), case.id, {
                "destination_type": "school", "institution": "SD Inpres", "reason": "Kembali sekolah"})
            visit = plan_visit(Actor(user=owner), case.id, {"step_type": "home_visit", "planned_at": (
                utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")})
            attachment = add_attachment(Actor(user=owner), case.id, {
                "purpose": "document", "data": base64.b64encode(b"%PDF-1.4\n%matrix\n").decode()})
            db.session.refresh(case)
            w.cases[relation] = {"case": case.id, "client": case.client_id, "goal": case.plan.goals[0].id,
                                 "sign_off": case.pending_sign_off.id, "version": case.version,
                                 "number": case.number, "referral": referral.id, "visit": visit.id,
                                 "attachment": attachment.id}
        w.facilitators = {relation: owner.id for relation, owner in owners.items()}
        w.supervisors = {relation: supervisor.id for relation, supervisor in supervisors.items()}
        w.user_ids = {"user": w.fac.id, "supervisor": w.sup.id}
        w.people = {role: user.username for role, user in people.items()}
        w.ids = {role: user.id for role, user in people.items()}
        w.clients = {}
        db.session.remove()
    return w


def _client(world: World, role: str):
    if role not in world.clients:
        client = world.app.test_client()
        login(client, world.people[role])
        world.clients[role] = client
    return world.clients[role]


def _denied_count(world: World, role: str) -> int:
    with world.app.app_context():
        return db.session.execute(
            select(func.count()).select_from(AuditEvent)
            .where(AuditEvent.action == "access.denied", AuditEvent.actor_id == world.ids[role])
        ).scalar_one()


def _snapshot(world: World) -> list[tuple]:
    with world.app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(Case.id, Case.state, Case.version, Case.facilitator_id).order_by(Case.id)).all()]


# --- the generated cases -----------------------------------------------------------------


def _cases():
    for route in ROUTES:
        for role in ROLES:
            for relation, status in route.statuses(role).items():
                yield pytest.param(route, role, relation, status,
                                   id=f"{route.method} {route.path} {role} {relation}")


@pytest.mark.parametrize("route, role, relation, expected", list(_cases()))
def test_access(world, route, role, relation, expected):
    values = dict(world.cases["own" if relation == "any" else relation]) | world.user_ids
    path = route.path.format(**values)
    data = dict(route.data or {})
    if route.method == "POST":
        data.setdefault("expected_version", values["version"])
    if route.path in ("/logout", "/login"):
        # Signing out (or in again) must not end the session the other cases share.
        client = world.app.test_client()
        client.post("/login", data={"username": world.people[role], "password": PASSWORD})
    else:
        client = _client(world, role)
    denied_before = _denied_count(world, role)
    cases_before = _snapshot(world)
    response = client.open(path, method=route.method, data=data if route.method == "POST" else None)
    if route.path == "/logout":
        world.clients.pop(role, None)  # signing out ends every session of the account
    assert response.status_code == expected, f"{route.method} {path} as {role} ({relation})"
    assert _snapshot(world) == cases_before, "a matrix request changed a case"
    if expected in (403, 404):
        assert _denied_count(world, role) == denied_before + 1, "a refusal leaves one access.denied event"


def test_the_table_lists_every_route(world):
    listed = {(r.method, r.path) for r in ROUTES}
    missing = []
    for rule in world.app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".", 1)[0]
        if blueprint not in COVERED_BLUEPRINTS or rule.rule.startswith(API_PREFIX):
            continue
        path = rule.rule
        for name in ("case_id", "client_id", "sign_off_id", "referral_id", "visit_id"):
            path = path.replace(f"<int:{name}>", "{" + name.removesuffix("_id") + "}")
        path = path.replace("<int:user_id>", "{user}").replace("<trigger>", "no_such_trigger")
        path = path.replace("<int:change_id>", "999999")
        # Supervision sessions and action points: the other people's are refused in
        # tests/services/test_supervision_sessions.py; here an unknown one.
        path = path.replace("<int:session_id>", "999999").replace("<int:point_id>", "999999")
        path = path.replace("<fmt>", "csv").replace("<figure>", "resolved").replace("<token>", NO_SUCH_JOB)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, path) not in listed and (method, path.replace("{user}", "{supervisor}")) not in listed:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


# --- ids in form and JSON bodies ----------------------------------------------------------------
#
# The same people and records, but the id under test travels in the body (or the query):
# a client, a goal, a facilitator, a supervisor, a case named by an auditor's form, a
# sign-off decided through the API. Its relation (own, team, other_team, other_province)
# is to `fac`, as above; the record in the path is the actor's own case. Each allowed
# request is refused by something after the id's check (an unknown workflow, a stale
# version), so the outcome names where the refusal came from: "422:client_id" is the id
# refused at its field, "422:workflow" or "409" means the id passed (on the case page, whose
# stage forms a case under review does not show, a bare 422 against the 303 of a stale
# version). 403/404 leave an access.denied event, as above; so does a client refused at
# its field.

STALE = 999  # a version no case has: an id that passes is then refused as a conflict
STALE_HEADERS = {"If-Match": f'"{STALE}"'}


@dataclass(frozen=True)
class BodyRoute:
    method: str
    path: str
    body: Any  # (world, relation) → the request's form or JSON body (a dict)
    expect: dict[str, str]  # role → one outcome for any relation, or four (own team other_team other_province)
    json: bool = False
    headers: dict | None = None
    outcome: Any = None  # response → status, when the status is inside the answer (the outbox)

    def outcomes(self, role: str) -> dict[str, str]:
        found = self.expect[role].split()
        if len(found) == 1:
            return dict.fromkeys(RELATIONS, found[0])
        return dict(zip(RELATIONS, found, strict=True))


def B(method: str, path: str, body, *, json: bool = False, headers: dict | None = None, outcome=None,
      **expect: str) -> BodyRoute:
    return BodyRoute(method, path, body, _spelt_out(method, path, expect), json, headers, outcome)


def _earlier() -> str:
    from caseflow.database import utcnow

    return (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")


def _client_of(w, rel):
    return w.cases[rel]["client"]


def _goal_of(w, rel):
    return w.cases[rel]["goal"]


def _outbox_status(response) -> int:
    return response.get_json()["results"][0]["status"]


BODY_ROUTES: list[BodyRoute] = [
    # --- a client named in the body: opening a case (the id is the whole point)
    B("POST", "/api/v1/cases", lambda w, rel: {"client_id": _client_of(w, rel), "ppks_category_code": "P02",
                                               "workflow": "no_such"}, json=True,
      facilitator="422:workflow 422:workflow 422:client_id 422:client_id",
      supervisor="422:facilitator_id 422:facilitator_id 422:client_id 422:client_id",
      auditor="403", manager="403", admin="403"),
    # --- a facilitator named in the body: whom a case is opened for, or reassigned to
    B("POST", "/api/v1/cases", lambda w, rel: {"client_id": w.cases["own"]["client"], "ppks_category_code": "P02",
                                               "facilitator_id": w.facilitators[rel], "workflow": "no_such"},
      json=True, facilitator="422:workflow 403 403 403",
      supervisor="422:workflow 422:workflow 422:facilitator_id 422:facilitator_id",
      auditor="403", manager="403", admin="403"),
    B("POST", "/clients/{client}/open-case", lambda w, rel: {"ppks_category_code": "P02", "workflow": "no_such",
                                                             "facilitator_id": w.facilitators[rel]},
      facilitator="422:workflow 403 403 403",
      supervisor="422:workflow 422:workflow 422:facilitator_id 422:facilitator_id",
      auditor="403", manager="403", admin="403"),
    B("POST", "/api/v1/cases/{case}/reassignments", lambda w, rel: {"facilitator_id": w.facilitators[rel],
                                                                    "reason": "Cuti"},
      json=True, headers=STALE_HEADERS, facilitator="403",
      supervisor="409 409 422:facilitator_id 422:facilitator_id", auditor="403", manager="404", admin="404"),
    B("POST", "/team/cases/{case}/reassign", lambda w, rel: {"facilitator_id": w.facilitators[rel],
                                                             "reason": "Cuti", "expected_version": STALE},
      supervisor="303 303 422:facilitator_id 422:facilitator_id", everyone="403"),
    # --- a goal named in the body: of this case's plan only
    B("POST", "/api/v1/cases/{case}/steps", lambda w, rel: {"step_type": "home_visit", "occurred_at": _earlier(),
                                                            "notes": "Kunjungan", "goal_id": _goal_of(w, rel)},
      json=True, headers=STALE_HEADERS, facilitator="409 422:goal_id 422:goal_id 422:goal_id",
      supervisor="403", auditor="403", manager="404", admin="404"),
    B("POST", "/cases/{case}/steps/new", lambda w, rel: {"step_type": "home_visit", "occurred_at": _earlier(),
                                                         "notes": "Kunjungan", "goal_id": _goal_of(w, rel),
                                                         "expected_version": STALE},
      facilitator="303 422:goal_id 422:goal_id 422:goal_id", supervisor="403", auditor="403",
      manager="404", admin="404"),
    B("PUT", "/api/v1/cases/{case}/evaluation", lambda w, rel: {
        "summary": "Evaluasi", "ratings": [{"goal_id": _goal_of(w, rel), "rating": "achieved"}]},
      json=True, headers=STALE_HEADERS,
      facilitator="409 422:ratings.0.goal_id 422:ratings.0.goal_id 422:ratings.0.goal_id",
      supervisor="403", auditor="403", manager="404", admin="404"),
    B("POST", "/cases/{case}/evaluation", lambda w, rel: {
        "summary": "Evaluasi", f"ratings-{_goal_of(w, rel)}-goal": "1",
        f"ratings-{_goal_of(w, rel)}-rating": "achieved", "expected_version": STALE},
      facilitator="303 422 422 422", supervisor="403", auditor="403",
      manager="404", admin="404"),
    B("PUT", "/api/v1/cases/{case}/plan", lambda w, rel: {
        "summary": "Rencana", "goals": [{"id": _goal_of(w, rel), "description": "Diubah",
                                         "target_date": "2027-01-31"}]},
      json=True, headers=STALE_HEADERS, facilitator="409 422:goals.0.id 422:goals.0.id 422:goals.0.id",
      supervisor="403", auditor="403", manager="404", admin="404"),
    B("POST", "/cases/{case}/plan", lambda w, rel: {
        "summary": "Rencana", "goals-0-id": _goal_of(w, rel), "goals-0-description": "Diubah",
        "goals-0-target_date": "2027-01-31", "expected_version": STALE},
      facilitator="303 422 422 422", supervisor="403", auditor="403",
      manager="404", admin="404"),
    # --- a goal named in a referral: of this case's plan only
    B("POST", "/api/v1/cases/{case}/referrals", lambda w, rel: {
        "destination_type": "school", "institution": "SD Inpres", "reason": "Sekolah", "goal_id": _goal_of(w, rel)},
      json=True, headers=STALE_HEADERS, facilitator="409 422:goal_id 422:goal_id 422:goal_id",
      supervisor="403", auditor="403", manager="404", admin="404"),
    B("POST", "/cases/{case}/referrals/new", lambda w, rel: {
        "destination_type": "school", "institution": "SD Inpres", "reason": "Sekolah", "goal_id": _goal_of(w, rel),
        "expected_version": STALE},
      facilitator="303 422:goal_id 422:goal_id 422:goal_id", supervisor="403", auditor="403",
      manager="404", admin="404"),
    # --- a sign-off decided through the API (its id is the relation's)
    B("POST", "/api/v1/sign-offs/{sign_off}/decision", lambda w, rel: {"decision": "approve"}, json=True,
      headers=STALE_HEADERS, facilitator="403 404 404 404", supervisor="409 409 404 404",
      # An auditor changes no case: refused before the body or the id is looked at.
      auditor="403", manager="404", admin="404"),
    # --- a case named in a queued write of the tablet's outbox
    B("POST", "/api/v1/outbox", lambda w, rel: {"entries": [{
        "key": f"matrix-{rel}-{uuid.uuid4().hex}", "kind": "step", "case_id": w.cases[rel]["case"],
        "if_match": STALE, "body": {"step_type": "home_visit", "occurred_at": _earlier(), "notes": "Kunjungan"}}]},
      json=True, outcome=_outbox_status, facilitator="409 404 404 404", supervisor="403 403 404 404",
      auditor="403", manager="404", admin="404"),
    # --- ids an auditor names in a form or a query: within their scope (province 91) only
    B("POST", "/audit/evidence/case", lambda w, rel: {"case_id": w.cases[rel]["case"]},
      auditor="200 200 200 422:case_number", everyone="403"),
    B("POST", "/audit/evidence/facilitator", lambda w, rel: {
        "facilitator_id": w.facilitators[rel], "from": "2026-01-01", "until": "2026-01-31"},
      auditor="200 200 200 422:facilitator_id", everyone="403"),
    B("GET", "/audit/trail", lambda w, rel: {"facilitator_id": w.facilitators[rel]},
      auditor="200 200 200 422:facilitator_id", everyone="403"),
    B("POST", "/audit/integrity", lambda w, rel: {"case_number": w.cases[rel]["number"]},
      auditor="200 200 200 422:case_number", everyone="403"),
    # --- a supervisor named in the body: delegating stays within one's own team
    B("POST", "/delegations", lambda w, rel: {"supervisor_id": w.supervisors[rel], "acting_id": w.supervisors["own"],
                                              "starts_on": "not a date", "ends_on": "2026-01-31", "reason": "Cuti"},
      supervisor="422:starts_on 422:starts_on 403 403", admin="422:starts_on", facilitator="403",
      auditor="403", manager="403"),
]


def _body_cases():
    for route in BODY_ROUTES:
        for role in ROLES:
            for relation, outcome in route.outcomes(role).items():
                yield pytest.param(route, role, relation, outcome,
                                   id=f"{route.method} {route.path} {role} body:{relation}")


def _fields_named(response, route: BodyRoute) -> set[str]:
    if route.json:
        body = response.get_json(silent=True) or {}
        return set(body.get("errors") or {})
    # A refused form names each field in its error summary, or under the field itself
    # (templates/macros/forms.html).
    html = response.get_data(as_text=True)
    return set(re.findall(r'href="#f-([^"]+)"', html)) | set(re.findall(r'id="f-([^"]+?)-error-\d+"', html))


def _field_matches(named: set[str], field: str, route: BodyRoute) -> bool:
    return (field if route.json else field.replace(".", "-").replace("_", "-")) in named


@pytest.mark.parametrize("route, role, relation, outcome", list(_body_cases()))
def test_ids_in_bodies(world, route, role, relation, outcome):
    path = route.path.format(**world.cases["own"])
    if route.path.startswith("/api/v1/sign-offs/"):
        path = route.path.format(**world.cases[relation])
    body = route.body(world, relation)
    client = _client(world, role)
    denied_before = _denied_count(world, role)
    cases_before = _snapshot(world)
    headers = {"Accept-Language": "en", **(route.headers or {})}
    if route.method == "GET":
        response = client.get(path, query_string=body, headers=headers)
    elif route.json:
        response = client.open(path, method=route.method, json=body, headers=headers)
    else:
        response = client.open(path, method=route.method, data=body, headers=headers)
    status_text, _, field = outcome.partition(":")
    status = route.outcome(response) if route.outcome and response.status_code == 200 else response.status_code
    where = f"{route.method} {path} as {role}, body id of {relation}"
    assert status == int(status_text), f"{where}: {status} {response.get_data(as_text=True)[:300]}"
    if field:
        named = _fields_named(response, route)
        assert _field_matches(named, field, route), f"{where}: refused fields {sorted(named)}, not {field}"
    assert _snapshot(world) == cases_before, "a matrix request changed a case"
    denied = _denied_count(world, role) - denied_before
    if status in (403, 404) or field == "client_id":
        assert denied == 1, f"{where}: a refusal leaves one access.denied event ({denied})"
