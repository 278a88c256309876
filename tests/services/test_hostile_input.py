"""Hostile and random input on every service schema: a typed error or success, never a
crash, and a refused call writes nothing (property tests with Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from caseflow.errors import CaseflowError
from caseflow.extensions import db
from caseflow.models import AuditEvent, Case, Client, User
from caseflow.services import cases, clients, users
from caseflow.services.context import Actor

HOSTILE_TEXT = st.sampled_from([
    "<script>alert(1)</script>", "\" onmouseover=alert(1) x=\"", "'; DROP TABLE cases; --",
    "=HYPERLINK(\"http://x\")", "../../etc/passwd", "\x00", "🙂" * 50, "a" * 20_000, "", " ",
])
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63), st.floats(allow_nan=True),
    st.text(max_size=40), HOSTILE_TEXT,
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(["2026-01-05", "2026-01-05T10:00:00", "1985-08-15", "9101011508850001", "91", "P02"]),
)

FIELDS = {
    "client": ["full_name", "nik", "birth_date", "sex", "address", "phone", "province_code",
               "guardian_name", "consent_given_by", "consent_confirmed"],
    "assessment": ["problem", "needs", "strengths", "resources", "risk_level"],
    "plan": ["summary", "goals"],
    "evaluation": ["summary", "ratings"],
    "termination": ["outcome", "closure_reason", "reason_details", "aftercare_plan"],
    "step": ["step_type", "occurred_at", "location", "notes", "goal_id"],
    "decision": ["decision", "reason"],
    "reassign": ["facilitator_id", "reason"],
    "user": ["username", "full_name", "role", "password", "province_code", "supervisor_id"],
    "open": ["client_id", "ppks_category_code", "summary", "facilitator_id", "workflow"],
}


def payloads(kind: str):
    names = st.sampled_from(FIELDS[kind] + ["unknown_field", "id", "state", "version"])
    return st.dictionaries(names, VALUES, max_size=len(FIELDS[kind]) + 2)


def snapshot() -> tuple:
    db.session.rollback()
    return (
        db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        db.session.execute(select(func.count()).select_from(Client)).scalar_one(),
        db.session.execute(select(func.count()).select_from(User)).scalar_one(),
        tuple(db.session.execute(select(Case.id, Case.state, Case.version).order_by(Case.id)).all()),
    )


def call_or_refuse(operation) -> None:
    before = snapshot()
    try:
        operation()
    except CaseflowError:
        assert snapshot() == before, "a refused call changed something"
    finally:
        db.session.rollback()


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def world(make, team, prepared):
    return prepared("hostile input world", lambda: {
        "recorded": make.case(team.facilitator),
        "evaluation": make.case(team.facilitator, to="evaluation"),
        "review": make.case(team.facilitator2, to="termination_review"),
        "team": team,
    })


@SETTINGS
@given(data=payloads("client"))
def test_register_client(world, data):
    call_or_refuse(lambda: clients.register_client(Actor(user=world["team"].facilitator), data))


@SETTINGS
@given(data=payloads("open"))
def test_open_case(world, data):
    call_or_refuse(lambda: cases.open_case(Actor(user=world["team"].facilitator), data))


@SETTINGS
@given(kind=st.sampled_from(["assessment", "plan", "evaluation", "termination", "step"]), data=st.data())
def test_stage_records_and_steps(world, kind, data):
    payload = data.draw(payloads(kind))
    actor = Actor(user=world["team"].facilitator)
    case = world["evaluation"]
    service = {
        "assessment": cases.save_assessment, "plan": cases.save_plan, "evaluation": cases.save_evaluation,
        "termination": cases.save_termination_request, "step": cases.log_step,
    }[kind]
    call_or_refuse(lambda: service(actor, case.id, payload))


@SETTINGS
@given(data=payloads("decision"), trigger=st.sampled_from(["reopen", "start_assessment", "x" * 300, "", "revise_plan"]))
def test_triggers_and_decisions(world, data, trigger):
    team = world["team"]
    call_or_refuse(lambda: cases.fire_trigger(Actor(user=team.facilitator), world["recorded"].id, trigger, data))
    review = world["review"]
    call_or_refuse(lambda: cases.decide_sign_off(Actor(user=team.supervisor), review.sign_offs[0].id, data))


@SETTINGS
@given(data=payloads("reassign"))
def test_reassign(world, data):
    call_or_refuse(lambda: cases.reassign_case(Actor(user=world["team"].supervisor), world["recorded"].id, data))


@SETTINGS
@given(data=payloads("user"))
def test_create_user(world, data):
    call_or_refuse(lambda: users.create_user(Actor(user=world["team"].admin), data))


def test_nul_characters_are_refused_at_the_field(world):
    from caseflow.errors import ValidationError

    case = world["evaluation"]
    with pytest.raises(ValidationError) as refused:
        cases.save_termination_request(Actor(user=world["team"].facilitator), case.id,
                                       {"outcome": "resolved", "aftercare_plan": "a\x00b"})
    assert "aftercare_plan" in refused.value.fields
    with pytest.raises(ValidationError) as refused:
        cases.save_plan(Actor(user=world["team"].facilitator), world["recorded"].id,
                        {"goals": [{"description": "x\x00"}]})


@pytest.mark.parametrize("bad", [0, -1, 2**31, 2**63, "2147483648"])
@pytest.mark.parametrize("kind, field", [
    ("reassign", "facilitator_id"), ("open", "client_id"), ("open", "facilitator_id"),
    ("user", "supervisor_id"), ("step", "goal_id"), ("plan", "goals.0.id"), ("evaluation", "ratings.0.goal_id"),
])
def test_an_id_outside_the_integer_range_is_refused_at_its_field(world, kind, field, bad):
    """PostgreSQL cannot even look such an id up (NumericValueOutOfRange): the schema names it."""
    from caseflow.errors import ValidationError

    team = world["team"]
    facilitator = Actor(user=team.facilitator)
    calls = {
        "reassign": lambda: cases.reassign_case(Actor(user=team.supervisor), world["recorded"].id,
                                                {"facilitator_id": bad, "reason": "Cuti"}),
        "open": lambda: cases.open_case(facilitator, {
            "client_id": world["recorded"].client_id, "ppks_category_code": "P02", field: bad}),
        "user": lambda: users.create_user(Actor(user=team.admin), {
            "username": "baru", "full_name": "Baru", "role": "facilitator", "password": "x" * 16,
            "province_code": "91", "supervisor_id": bad}),
        "step": lambda: cases.log_step(facilitator, world["evaluation"].id, {
            "step_type": "phone_call", "occurred_at": "2026-01-05T10:00:00+09:00", "notes": "x", "goal_id": bad}),
        "plan": lambda: cases.save_plan(facilitator, world["recorded"].id,
                                        {"goals": [{"id": bad, "description": "Sekolah"}]}),
        "evaluation": lambda: cases.save_evaluation(facilitator, world["evaluation"].id,
                                                    {"ratings": [{"goal_id": bad, "rating": "achieved"}]}),
    }
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        calls[kind]()
    assert field in refused.value.fields
    assert snapshot() == before


# --- dates a person types --------------------------------------------------------------


@pytest.mark.parametrize("occurred", ["0001-01-01T00:00:00", "0001-01-01T00:00:00+09:00",
                                      "9999-12-31T23:59:59", "1850-06-01T10:00:00"])
def test_a_time_outside_1900_to_2100_is_refused_at_the_field(world, occurred):
    """Year 1 read in UTC+9 overflowed Python's datetime: a 500."""
    from caseflow.errors import ValidationError

    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        cases.log_step(Actor(user=world["team"].facilitator), world["evaluation"].id,
                       {"step_type": "home_visit", "occurred_at": occurred, "notes": "x"})
    assert list(refused.value.fields) == ["occurred_at"]
    assert snapshot() == before


def _step_at(world, when: str):
    return cases.log_step(Actor(user=world["team"].facilitator), world["evaluation"].id,
                          {"step_type": "home_visit", "occurred_at": when, "notes": "Kunjungan"})


def test_a_step_cannot_predate_the_case_beyond_the_tolerance(world, app):
    """Dated 1900 (or a year before the case was recorded) is refused; a visit written down
    a few weeks late is not."""
    from datetime import timedelta

    from caseflow.errors import ValidationError

    recorded = world["evaluation"].opened_at
    for when in ("1900-01-01T10:00:00", (recorded - timedelta(days=31)).isoformat()):
        with pytest.raises(ValidationError) as refused:
            _step_at(world, when)
        assert list(refused.value.fields) == ["occurred_at"]
        assert "30" in str(refused.value.fields["occurred_at"][0])
    assert _step_at(world, (recorded - timedelta(days=29)).isoformat()).id
    app.config["CASEFLOW_STEP_BACKDATE_TOLERANCE_DAYS"] = 60
    assert _step_at(world, (recorded - timedelta(days=59)).isoformat()).id


def test_a_step_cannot_predate_the_clients_birth(make, team, app):
    from caseflow.errors import ValidationError

    app.config["CASEFLOW_STEP_BACKDATE_TOLERANCE_DAYS"] = 365 * 100
    client = make.client(team.facilitator, nik=None, birth_date="2015-05-01", guardian_name="Ibu")
    case = cases.open_case(Actor(user=team.facilitator), {"client_id": client.id, "ppks_category_code": "P02"})
    world = {"team": team, "evaluation": case}
    with pytest.raises(ValidationError) as refused:
        _step_at(world, "2015-04-30T10:00:00")
    assert list(refused.value.fields) == ["occurred_at"] and "2015-05-01" in str(refused.value.fields["occurred_at"][0])
    assert _step_at(world, "2015-05-01T10:00:00").id


@pytest.mark.parametrize("target", ["0001-01-01", "1900-01-01", "9999-12-31", "past"])
def test_a_goal_target_date_before_the_case_or_far_out_is_refused(make, team, target):
    from datetime import timedelta

    from caseflow.errors import ValidationError

    case = make.case(team.facilitator, to="planning")
    if target == "past":
        target = (case.opened_at - timedelta(days=40)).date().isoformat()
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        cases.save_plan(Actor(user=team.facilitator), case.id, {
            "goals": [{"description": "Kembali sekolah", "target_date": "2030-01-01"},
                      {"description": "Punya KTP", "target_date": target}]})
    assert list(refused.value.fields) == ["goals.1.target_date"]
    assert snapshot() == before


@pytest.mark.parametrize("dates, field", [
    (("0001-01-01", "today"), "starts_on"), (("today", "9999-12-31"), "ends_on"),
    (("2020-01-01", "2020-01-31"), "ends_on"), (("today", "in two years"), "ends_on"),
])
def test_a_delegation_far_out_or_already_over_is_refused(team, dates, field):
    from datetime import date, timedelta

    from caseflow.errors import ValidationError
    from caseflow.services.sign_off_policy import delegate_supervisor

    named = {"today": date.today().isoformat(), "in two years": (date.today() + timedelta(days=730)).isoformat()}
    starts_on, ends_on = (named.get(d, d) for d in dates)
    with pytest.raises(ValidationError) as refused:
        delegate_supervisor(Actor(user=team.supervisor), {
            "acting_id": team.other_supervisor.id, "starts_on": starts_on, "ends_on": ends_on, "reason": "Cuti"})
    assert list(refused.value.fields) == [field]
