"""Duplicates by NIK: a facilitator learns nothing about clients outside their reach.

A NIK already registered to a client the actor may see is pointed out (a returning
client gets a new case, not a second record). One registered out of reach gets a neutral
answer that names no person, province or record, is audited on the actor's chain without
the other client's data, reaches the actor's supervisor, and counts against a per-user
limit in 24 hours; an import check over that limit is refused as a whole."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow.database import simulated_time, utcnow
from caseflow.errors import TooMany, ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent, Client
from caseflow.models.sign_off_policy import Notification
from caseflow.services.clients import register_client
from caseflow.services.context import Actor
from caseflow.services.sign_off_policy import delegate_supervisor
from caseflow.transfers import imports

ACTION = "client.duplicate_nik_checked"


def act(user) -> Actor:
    return Actor(user=user)


def person(existing: Client, **overrides) -> dict:
    """A new registration that carries `existing`'s NIK (and so its birth date and sex)."""
    data = {"full_name": "Siti Baru", "nik": existing.nik, "birth_date": existing.birth_date.isoformat(),
            "sex": existing.sex, "address": "Jl. Baru", "province_code": "91", "consent_given_by": "klien",
            "consent_confirmed": True}
    return data | overrides


def nik_messages(error) -> list[str]:
    return [str(m) for m in error.fields["nik"]]


def clients_with(nik: str) -> int:
    return db.session.execute(select(func.count()).select_from(Client).where(Client.nik == nik)).scalar_one()


def checks_of(user) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.execute(select(AuditEvent).where(
        AuditEvent.action == ACTION, AuditEvent.actor_id == user.id).order_by(AuditEvent.id)).scalars())


def notifications_of(user) -> list[Notification]:
    db.session.rollback()
    return list(db.session.execute(select(Notification).where(Notification.user_id == user.id)).scalars())


@pytest.fixture
def elsewhere(team, make):
    """A client of another province's facilitator, with HIV notes."""
    return make.client(team.other_facilitator, province="53", full_name="Maria Rahasia",
                       health_notes="HIV positif", phone="081299990000")


# --- registering ------------------------------------------------------------------------------


@pytest.fixture
def other_team(make):
    """A facilitator of another team in the same province."""
    return make.user("facilitator", province="91", supervisor=make.user("supervisor", province="91"))


@pytest.mark.parametrize("owner", ["other_facilitator", "other_team"])
def test_a_nik_registered_out_of_reach_gets_a_neutral_answer(team, make, owner, other_team):
    """Another province's client and another team's client get the same words: no name, no
    province, no record number; and still no second record."""
    owner = other_team if owner == "other_team" else getattr(team, owner)
    theirs = make.client(owner, province=owner.province_code, full_name="Maria Rahasia")
    with pytest.raises(ValidationError) as refused:
        register_client(act(team.facilitator), person(theirs, province_code=owner.province_code))
    text = " ".join(nik_messages(refused.value)) + str(refused.value.message)
    for secret in ("Maria", "Rahasia", owner.province_code, str(theirs.id), "already registered"):
        assert secret not in text
    assert "supervisor" in text.lower()
    assert refused.value.extra.get("current") is None
    assert clients_with(theirs.nik) == 1


def test_the_neutral_answer_is_the_same_for_any_client_out_of_reach(team, make, elsewhere, other_team):
    next_door = make.client(other_team)
    answers = []
    for existing in (elsewhere, next_door):
        with pytest.raises(ValidationError) as refused:
            register_client(act(team.facilitator), person(existing))
        answers.append((str(refused.value.message), nik_messages(refused.value)))
    assert answers[0] == answers[1]


@pytest.mark.parametrize("registrar, registering", [
    pytest.param("facilitator", "facilitator", id="their own client"),
    # Issue 19: a client a colleague registered (and perhaps never gave a case) is not lost.
    pytest.param("facilitator2", "facilitator", id="a team mate's client"),
    pytest.param("facilitator2", "supervisor", id="the team's client, to the supervisor"),
])
def test_a_client_within_reach_is_pointed_out(team, make, registrar, registering):
    registered = make.client(getattr(team, registrar), full_name="Budi Kembali")
    actor = getattr(team, registering)
    with pytest.raises(ValidationError) as refused:
        register_client(act(actor), person(registered))
    assert "Budi Kembali" in nik_messages(refused.value)[0]
    assert refused.value.extra["current"] == {"client_id": registered.id}
    assert checks_of(actor) == []  # nothing out of reach was learnt


def test_a_check_out_of_reach_is_audited_without_the_other_clients_data(team, elsewhere):
    with pytest.raises(ValidationError):
        register_client(act(team.facilitator), person(elsewhere))
    [event] = checks_of(team.facilitator)
    assert event.chain == f"user:{team.facilitator.id}" and event.case_id is None
    assert event.context == {"via": "registration", "outside_reach": 1}
    assert event.before is None and event.after is None
    recorded = repr(event.context)
    for secret in (elsewhere.nik, "Maria", "HIV", "081299990000", "53"):
        assert secret not in recorded


def test_the_supervisor_is_asked_to_check_it(team, make, elsewhere):
    with pytest.raises(ValidationError):
        register_client(act(team.facilitator), person(elsewhere))
    [notice] = notifications_of(team.supervisor)
    assert notice.kind == "client.duplicate_nik" and notice.data["by"] == team.facilitator.full_name
    assert "client_id" not in notice.data  # out of the supervisor's reach too
    # A client the supervisor may see but the facilitator may not (of a team the supervisor
    # acts for): the notice leads the supervisor to it.
    teammate = supervisors_only(team, make)
    with pytest.raises(ValidationError):
        register_client(act(team.facilitator), person(teammate, province_code="53"))
    latest = notifications_of(team.supervisor)[-1]
    assert latest.data["client_id"] == teammate.id
    assert notifications_of(team.other_supervisor) == []


def supervisors_only(team, make) -> Client:
    """A client of a team the supervisor acts for this week (out of the facilitator's reach)."""
    today = utcnow().date()
    delegate_supervisor(Actor(user=team.other_supervisor), {
        "acting_id": team.supervisor.id, "starts_on": str(today - timedelta(days=1)),
        "ends_on": str(today + timedelta(days=7)), "reason": "Cuti"})
    return make.client(team.other_facilitator, province="53")


def test_the_notifications_page_tells_the_supervisor(team, make, signed_in):
    teammate = supervisors_only(team, make)
    with pytest.raises(ValidationError):
        register_client(act(team.facilitator), person(teammate, province_code="53"))
    page = signed_in(team.supervisor).get("/notifications", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and team.facilitator.full_name in text
    assert f"/clients/{teammate.id}/open-case" in text


def test_the_auditors_see_the_check_in_the_facilitators_trail(team, elsewhere, signed_in):
    with pytest.raises(ValidationError):
        register_client(act(team.facilitator), person(elsewhere))
    page = signed_in(team.auditor).get(f"/audit/trail?facilitator_id={team.facilitator.id}",
                                       headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "NIK terdaftar di luar jangkauannya" in page.get_data(as_text=True)


def test_without_a_supervisor_the_answer_says_the_check_is_recorded(team, make, elsewhere):
    alone = make.user("facilitator", province="91")
    with pytest.raises(ValidationError) as refused:
        register_client(act(alone), person(elsewhere))
    assert "supervisor" not in nik_messages(refused.value)[0].lower()
    assert len(checks_of(alone)) == 1


def test_checks_out_of_reach_are_limited_per_person(team, make, app):
    app.config["CASEFLOW_NIK_CHECKS_PER_DAY"] = 2
    others = [make.client(team.other_facilitator, province="53") for _ in range(3)]
    for client in others[:2]:
        with pytest.raises(ValidationError):
            register_client(act(team.facilitator), person(client))
    with pytest.raises(TooMany) as limited:
        register_client(act(team.facilitator), person(others[2]))
    assert "nik" in limited.value.fields
    assert len(checks_of(team.facilitator)) == 3 and checks_of(team.facilitator)[-1].context["refused"] == "limit"
    # Another person has their own count; and a day later the count starts again.
    with pytest.raises(ValidationError):
        register_client(act(team.facilitator2), person(others[2]))
    with simulated_time(utcnow() + timedelta(hours=25)), pytest.raises(ValidationError):
        register_client(act(team.facilitator), person(others[2]))


def test_a_refused_registration_through_the_api_still_leaves_its_evidence(team, elsewhere, signed_in):
    """The API runs the service inside its own transaction, which the refusal rolls back:
    the check's audit event and the supervisor's notice are written after it."""
    response = signed_in(team.facilitator).post("/api/v1/clients", json=person(elsewhere),
                                                headers={"Accept-Language": "en"})
    assert response.status_code == 422
    body = response.get_json(force=True)
    assert "supervisor" in body["errors"]["nik"][0].lower() and "Maria" not in response.get_data(as_text=True)
    assert len(checks_of(team.facilitator)) == 1 and len(notifications_of(team.supervisor)) == 1
    assert clients_with(elsewhere.nik) == 1


def test_the_registration_form_points_to_a_client_within_reach(team, make, signed_in):
    mine = make.client(team.facilitator, full_name="Budi Kembali")
    form = {k: ("1" if v is True else v) for k, v in person(mine).items()}
    page = signed_in(team.facilitator).post("/clients/new", data=form, headers={"Accept-Language": "en"})
    assert page.status_code == 422
    assert f"/clients/{mine.id}/open-case" in page.get_data(as_text=True)


def test_the_registration_form_keeps_its_input_when_the_limit_is_reached(team, elsewhere, signed_in, app):
    app.config["CASEFLOW_NIK_CHECKS_PER_DAY"] = 0
    form = {k: ("1" if v is True else v) for k, v in person(elsewhere).items()}
    page = signed_in(team.facilitator).post("/clients/new", data=form, headers={"Accept-Language": "en"})
    assert page.status_code == 429
    assert 'value="Siti Baru"' in page.get_data(as_text=True)


# --- importing ---------------------------------------------------------------------------------


def row(existing: Client | None = None, nik: str = "9171014508850001") -> dict[str, str]:
    """A register row: a new person (the template's), or one with `existing`'s NIK."""
    values = dict(zip(imports.COLUMN_NAMES, imports.template_rows()[1], strict=True))
    values.update(full_name="Siti Impor", facilitator_username="", nik=nik)
    if existing is not None:
        values.update(nik=existing.nik, birth_date=existing.birth_date.isoformat(), sex=existing.sex)
    return values


def test_an_import_check_marks_niks_out_of_reach_neutrally_and_audits_them(team, make, elsewhere):
    mine = make.client(team.facilitator, full_name="Budi Kembali")
    checks = imports.check_rows(act(team.facilitator), [row(elsewhere), row(mine), row()])
    assert "supervisor" in checks[0].errors["nik"][0].lower() and "Maria" not in repr(checks[0].as_dict())
    assert "Budi Kembali" in checks[1].errors["nik"][0]
    assert checks[2].valid
    [event] = checks_of(team.facilitator)
    assert event.context == {"via": "import", "outside_reach": 1, "rows": [2]}
    [notice] = notifications_of(team.supervisor)
    assert notice.data["count"] == 1 and notice.data["rows"] == [2]


def test_an_import_with_more_niks_out_of_reach_than_allowed_is_refused_whole(team, make, app):
    """Up to 20,000 NIKs a file: checking them one by one against the country is the oracle
    the limit closes. Past it, nothing of the file is answered."""
    app.config["CASEFLOW_NIK_CHECKS_PER_DAY"] = 3
    others = [make.client(team.other_facilitator, province="53") for _ in range(4)]
    rows = [row(c) for c in others] + [row()]
    with pytest.raises(TooMany) as refused:
        imports.check_rows(act(team.facilitator), rows)
    assert "file" in refused.value.fields and "3" in str(refused.value.fields["file"][0])
    [event] = checks_of(team.facilitator)
    assert event.context["refused"] == "file" and event.context["outside_reach"] == 4
    # The limit is spent: a file with any NIK at all is now refused, whatever it holds.
    with pytest.raises(TooMany):
        imports.check_rows(act(team.facilitator), [row()])
    [check] = imports.check_rows(act(team.facilitator), [row(nik="")])
    assert check.valid


def test_the_import_page_refuses_such_a_file_with_a_message(team, make, signed_in, app):
    app.config["CASEFLOW_NIK_CHECKS_PER_DAY"] = 1
    others = [make.client(team.other_facilitator, province="53") for _ in range(2)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(imports.COLUMN_NAMES)
    writer.writerows([[row(c)[name] for name in imports.COLUMN_NAMES] for c in others])
    page = signed_in(team.facilitator).post(
        "/imports/", data={"file": (io.BytesIO(buffer.getvalue().encode()), "r.csv")},
        content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert page.status_code == 429
    assert "supervisor" in page.get_data(as_text=True).lower()


def test_the_limit_counts_what_every_worker_recorded(team, make, app):
    """The count lives in the database (the audit events), not in one process's memory."""
    from caseflow.services import duplicates

    app.config["CASEFLOW_NIK_CHECKS_PER_DAY"] = 5
    elsewhere = make.client(team.other_facilitator, province="53")
    with pytest.raises(ValidationError):
        register_client(act(team.facilitator), person(elsewhere))
    assert duplicates.checks_left(team.facilitator) == 4
