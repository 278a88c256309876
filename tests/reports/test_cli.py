"""`caseflow generate` (fast path with sealed chains) and `caseflow import`."""

from __future__ import annotations

import csv

from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.models import Case, CaseStageHistory, Client
from caseflow.reports import figures as fg
from caseflow.services import cases
from caseflow.services.audit import verify_everything
from caseflow.services.context import Actor
from caseflow.transfers import imports
from tests.support.queries import count


def test_generate_makes_cases_whose_audit_chains_verify(app, team, make):
    make.case(team.facilitator, to="resolved", supervisor=team.supervisor)  # one made the normal way
    result = app.test_cli_runner().invoke(args=["generate", "--cases", "60", "--batch", "25"])
    assert result.exit_code == 0, result.output
    assert "60 cases" in result.output
    db.session.rollback()
    assert count(Case) == 61 and count(Client) == 61
    report = verify_everything()
    assert report.ok, report.first_problem
    stays = db.session.execute(select(func.count()).select_from(CaseStageHistory)
                               .where(CaseStageHistory.left_at.is_(None))).scalar_one()
    assert stays == 61  # exactly one current stay per case
    assert fg.total("recorded", fg.Filters()) == 61
    # The services carry on after it: case numbers do not collide.
    case = make.case(team.facilitator)
    assert case.number.startswith("91-")
    cases.fire_trigger(Actor(user=team.facilitator), case.id, "start_assessment")


def _register(path, *rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(imports.COLUMN_NAMES)
        for row in rows:
            writer.writerow(row)


def _row(**overrides):
    values = dict(zip(imports.COLUMN_NAMES, imports.template_rows()[1], strict=True))
    values.update(overrides)
    return [values[c] for c in imports.COLUMN_NAMES]


def test_import_command_checks_then_imports(app, team, tmp_path):
    path = tmp_path / "register.csv"
    _register(path, _row(facilitator_username="fac"), _row(nik="", facilitator_username="nobody"))
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["import", str(path), "--as", "sup", "--all-or-nothing"])
    assert refused.exit_code == 1
    assert "row 3, facilitator_username" in refused.output
    db.session.rollback()
    assert count(Case) == 0
    done = runner.invoke(args=["import", str(path), "--as", "sup"])
    assert done.exit_code == 0, done.output
    assert "1 cases imported" in done.output
    db.session.rollback()
    assert count(Case) == 1


def test_import_command_refuses_a_file_that_is_not_a_spreadsheet(app, team, tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n")
    result = app.test_cli_runner().invoke(args=["import", str(path), "--as", "fac"])
    assert result.exit_code == 1 and "not a spreadsheet" in result.output


def test_reports_seal_keeps_the_months_that_are_over(app, programme):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reports", "seal"])
    assert result.exit_code == 0, result.output
    assert "month(s) sealed" in result.output and "2026-01 to" in result.output
    again = runner.invoke(args=["reports", "seal"])
    assert again.exit_code == 0 and "sealed already" in again.output
    rebuilt = runner.invoke(args=["reports", "seal", "--rebuild"])
    assert rebuilt.exit_code == 0 and "month(s) sealed" in rebuilt.output
    half_year = fg.Filters(**programme.half_year)
    assert fg.total("resolved", half_year) == 2  # read from the cells, as before


def test_generate_seals_the_past_months_it_filled(app, team):
    result = app.test_cli_runner().invoke(args=["generate", "--cases", "40", "--batch", "40"])
    assert result.exit_code == 0, result.output
    assert "month(s) sealed" in result.output
    db.session.rollback()
    app.config["CASEFLOW_REPORT_ROLLUPS"] = False
    raw = fg.headline(fg.Filters())
    app.config["CASEFLOW_REPORT_ROLLUPS"] = True
    assert fg.headline(fg.Filters()) == raw
