"""Importing registers: the template, refusals of bad files, per-row checks, all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow.database import simulated_time, utcnow
from caseflow.errors import ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent, Case, Client, ReportJob
from caseflow.services.context import Actor
from caseflow.transfers import imports
from tests.support.imports import HEADER, csv_bytes, row, upload, xlsx_bytes
from tests.support.queries import count


def test_both_templates_read_back_as_one_valid_row(team):
    for name, data in (("t.xlsx", imports.template_xlsx()), ("t.csv", imports.template_csv())):
        rows = imports.read_table(name, data)
        assert rows[0]["nik"] == "9171014508850001" and rows[0]["birth_date"] == "1985-08-05"
        rows[0]["facilitator_username"] = ""
        checks = imports.check_rows(Actor(user=team.facilitator), rows)
        assert checks[0].valid, checks[0].errors


@pytest.mark.parametrize(("name", "data", "message"), [
    ("report.pdf", b"%PDF-1.7 ...", "not a spreadsheet"),
    ("register.xlsx", b"PK\x03\x04garbage", "damaged"),
    ("register.csv", b"name,age\nBudi,7\n", "not the Caseflow import template"),
    ("register.csv", b"", "empty"),
    ("register.csv", HEADER.encode() + b"\n", "no rows"),
    ("register.csv", b"\xff\xfe\x00f\x00u", "not a spreadsheet"),
])
def test_bad_files_are_refused_with_a_clear_message(name, data, message):
    with pytest.raises(ValidationError) as refused:
        imports.read_table(name, data)
    assert message in str(refused.value)
    assert "file" in refused.value.fields


def test_wrong_template_names_the_missing_columns():
    with pytest.raises(ValidationError, match="full_name, nik|full_name, birth_date"):
        imports.read_table("x.csv", b"nama,umur\nBudi,7\n")


def test_every_row_problem_is_reported_by_column(team):
    rows = [
        row(),
        row(nik="9999014508850001", full_name="B"),
        row(nik="9171014508850001", full_name="Duplicate"),
        row(nik="", province_code="00"),
        row(nik="", ppks_category_code="X99"),
        row(nik="", birth_date="05-08-1985"),
        row(nik="", recorded_on="2999-01-01"),
        row(nik="", consent_confirmed="tidak"),
    ]
    checks = imports.check_rows(Actor(user=team.facilitator), rows)
    assert [c.number for c in checks] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert checks[0].valid
    assert "nik" in checks[1].errors
    assert "row 2" in checks[2].errors["nik"][0]
    assert "province_code" in checks[3].errors
    assert "ppks_category_code" in checks[4].errors
    assert "birth_date" in checks[5].errors
    assert "recorded_on" in checks[6].errors
    assert "consent_confirmed" in checks[7].errors
    assert len(checks[7].errors["consent_confirmed"]) == 1  # one message, in the sheet's words


def test_a_row_with_several_problems_gets_all_of_them_at_once(team):
    """A wrong date and sex no longer hide the unknown province (found only after the date
    had been mended and the file uploaded again)."""
    [check] = imports.check_rows(Actor(user=team.facilitator), [
        row(nik="", birth_date="1990-13-40", sex="Q", province_code="zz")])
    assert {"birth_date", "sex", "province_code"} <= set(check.errors)


def test_supervisor_names_facilitators_of_their_team(team):
    checks = imports.check_rows(Actor(user=team.supervisor), [
        row(facilitator_username="fac"), row(nik="", facilitator_username="fac.ntt")])
    assert checks[0].valid and "facilitator_username" in checks[1].errors


def test_applying_goes_through_the_services_with_real_audit_events(team):
    actor = Actor(user=team.supervisor)
    checks = imports.check_rows(actor, [row(facilitator_username="fac", recorded_on="2026-03-01"),
                                        row(nik="", full_name="Budi", sex="M", birth_date="1990-01-01",
                                            facilitator_username="fac2")])
    applied = imports.apply_rows(actor, checks, all_or_nothing=True)
    assert [number for number, _case in applied] == [2, 3]
    cases = db.session.execute(select(Case).order_by(Case.id)).scalars().all()
    assert [c.facilitator_id for c in cases] == [team.facilitator.id, team.facilitator2.id]
    assert "2026-03-01" in cases[0].summary
    actions = set(db.session.execute(select(AuditEvent.action)).scalars())
    assert {"client.registered", "case.opened"} <= actions


def test_all_or_nothing_imports_nothing_when_a_row_is_wrong(team):
    actor = Actor(user=team.facilitator)
    checks = imports.check_rows(actor, [row(), row(nik="", ppks_category_code="X")])
    with pytest.raises(imports.ImportRefused, match="1 rows have errors"):
        imports.apply_rows(actor, checks, all_or_nothing=True)
    assert count(Client) == 0


def test_a_row_that_fails_while_applying_rolls_back_every_row(team, make):
    actor = Actor(user=team.facilitator)
    checks = imports.check_rows(actor, [row(nik="", full_name="Ani"), row()])
    make.client(team.facilitator, nik="9171014508850001", sex="F", birth_date="1985-08-05")  # meanwhile
    before = count(Client)
    with pytest.raises(imports.ImportRefused, match="Row 3"):
        imports.apply_rows(actor, checks, all_or_nothing=False)
    assert count(Client) == before and count(Case) == 0


# --- through the pages --------------------------------------------------------------------


def test_upload_check_apply_and_poll(team, signed_in):
    client = signed_in(team.facilitator)
    assert client.get("/imports/template.xlsx").status_code == 200
    response = upload(client, "register.csv", csv_bytes(row(), row(nik="123")))
    assert response.status_code == 302
    report = client.get(response.location, headers={"Accept-Language": "en"})
    assert "1 dari 2 baris siap diimpor" in report.text and "NIK" in report.text
    token = response.location.rstrip("/").split("/")[-1]
    assert client.post(f"/imports/{token}/apply").status_code == 302
    state = client.get(f"/imports/{token}/status.json").get_json()
    assert state["status"] == "done" and state["done"] == state["total"] == 1
    db.session.rollback()
    assert count(Case) == 1
    job = db.session.execute(select(ReportJob)).scalar_one()
    assert "rows" not in job.result  # the personal data waiting in the job is gone
    assert client.post(f"/imports/{token}/apply").status_code == 302
    db.session.rollback()
    assert count(Case) == 1  # a second click imports nothing twice
    assert signed_in(team.facilitator2).get(f"/imports/{token}/status.json").status_code == 404


def test_a_file_that_is_not_a_spreadsheet_gets_a_message_and_nothing_is_kept(team, signed_in):
    response = upload(signed_in(team.facilitator), "photo.jpg", b"\xff\xd8\xff\xe0JFIF")
    assert response.status_code == 422 and "Ini bukan lembar kerja" in response.text
    assert count(ReportJob) == 0


def test_discard_imports_nothing(team, signed_in):
    client = signed_in(team.facilitator)
    response = upload(client, "register.xlsx", xlsx_bytes([imports.COLUMN_NAMES, list(row().values())]))
    token = response.location.rstrip("/").split("/")[-1]
    client.post(f"/imports/{token}/discard")
    db.session.rollback()
    assert count(Client) == 0


def test_programme_managers_do_not_import(team, signed_in):
    assert signed_in(team.manager).get("/imports/").status_code == 403


@pytest.mark.parametrize("name", ["../../../../tmp/caseflow-evil.csv", "..\\..\\evil.csv", "/etc/passwd"])
def test_uploaded_file_names_never_reach_the_file_system(team, signed_in, tmp_path, name):
    """The name is only a hint of the format: nothing is written under it, anywhere."""
    import os

    client = signed_in(team.facilitator)
    response = upload(client, name, csv_bytes(row()))
    assert response.status_code in (200, 302, 303, 422)
    assert not os.path.exists("/tmp/caseflow-evil.csv")
    assert "root:" not in response.get_data(as_text=True)


def test_oversized_upload_is_refused_with_413(team, signed_in, app):
    client = signed_in(team.facilitator)
    too_big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = upload(client, "register.csv", too_big)
    assert response.status_code == 413


def test_a_check_left_waiting_is_erased_and_can_no_longer_be_applied(team, signed_in, app):
    """Rows checked but neither applied nor discarded hold a register's personal data:
    after CASEFLOW_EXPORT_KEEP_HOURS the purge erases them, and applying then says so."""
    client = signed_in(team.facilitator)
    response = upload(client, "register.csv", csv_bytes(row()))
    token = response.location.rstrip("/").split("/")[-1]
    later = utcnow() + timedelta(hours=app.config["CASEFLOW_EXPORT_KEEP_HOURS"], minutes=1)
    with simulated_time(later):
        result = app.test_cli_runner().invoke(args=["exports", "purge"])
        assert result.exit_code == 0, result.output
        db.session.rollback()
        job = db.session.execute(select(ReportJob)).scalar_one()
        assert job.status == "expired" and "rows" not in job.result
        applied = client.post(f"/imports/{token}/apply", follow_redirects=True)
    assert "sudah kedaluwarsa; unggah berkasnya lagi" in applied.text
    db.session.rollback()
    assert count(Case) == 0 and count(Client) == 0


def test_a_fresh_check_is_kept_by_the_purge(team, signed_in, app):
    client = signed_in(team.facilitator)
    upload(client, "register.csv", csv_bytes(row()))
    assert app.test_cli_runner().invoke(args=["exports", "purge"]).exit_code == 0
    db.session.rollback()
    job = db.session.execute(select(ReportJob)).scalar_one()
    assert job.status == "checked" and len(job.result["rows"]) == 1
