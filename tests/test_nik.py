"""NIK validation: 16 digits, a real province, a possible birth date (women: day + 40)."""

from __future__ import annotations

import pytest

from caseflow.errors import ValidationError
from caseflow.nik import NikError, parse_nik
from caseflow.services.clients import register_client
from caseflow.services.context import Actor

PROVINCES = {"11", "31", "53", "91", "94"}


def test_good_nik_for_a_man():
    facts = parse_nik("9101011508850001", PROVINCES)
    assert (facts.province_code, facts.birth_day, facts.birth_month, facts.sex) == ("91", 15, 8, "M")


def test_good_nik_for_a_woman_has_forty_added_to_the_day():
    facts = parse_nik("5301015508850002", PROVINCES)
    assert facts.birth_day == 15 and facts.sex == "F"


def test_leap_day_is_possible():
    assert parse_nik("3101012902000003", PROVINCES).birth_day == 29


@pytest.mark.parametrize(("nik", "message"), [
    ("9901011508850001", "99, which is not a province code"),
    ("9101013208850001", "not a possible birth date"),
    ("9101011513850001", "not a possible birth date"),
    ("9101017208850001", "not a possible birth date"),   # woman, day 32
    ("9101013002850001", "not a possible birth date"),   # 30 February
    ("910101150885001", "16 digits (this one has 15)"),
    ("91010115088500011", "16 digits (this one has 17)"),
    ("91010115O8850001", "digits only"),
    ("9101 11508850001", "digits only"),
    ("9100001508850001", "regency and a district"),
    ("9101011508850000", "serial"),
])
def test_bad_nik_is_refused_with_a_clear_message(nik, message):
    with pytest.raises(NikError) as refused:
        parse_nik(nik, PROVINCES)
    assert message in str(refused.value)


def test_registration_shows_nik_errors_at_the_field_and_saves_nothing(app, team):
    from sqlalchemy import func, select

    from caseflow.extensions import db
    from caseflow.models import Client

    data = {
        "full_name": "Yakobus", "nik": "9101011508850001", "birth_date": "1985-08-16", "sex": "M",
        "province_code": "91", "consent_given_by": "klien", "consent_confirmed": True,
    }
    with pytest.raises(ValidationError) as refused:
        register_client(Actor(user=team.facilitator), data)
    assert refused.value.fields["nik"] == ["NIK does not match the birth date."]
    data["nik"] = "9901011608850001"
    with pytest.raises(ValidationError) as refused:
        register_client(Actor(user=team.facilitator), data)
    assert "not a province code" in str(refused.value.fields["nik"][0])
    assert db.session.execute(select(func.count()).select_from(Client)).scalar_one() == 0


def test_minor_needs_a_guardian_and_consent_is_required(app, team):
    data = {"full_name": "Anak", "birth_date": "2018-01-01", "sex": "F", "province_code": "91",
            "consent_given_by": "ibu", "consent_confirmed": False}
    with pytest.raises(ValidationError) as refused:
        register_client(Actor(user=team.facilitator), data)
    assert {"guardian_name", "consent_confirmed"} <= set(refused.value.fields)
