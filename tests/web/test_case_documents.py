"""The case page links to its printable documents; asking for a report that cannot exist
yet is explained, not treated as a denied access."""

from __future__ import annotations

from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.models import AuditEvent


def test_case_page_links_to_the_pdfs(signed_in, team, make):
    closed = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    page = signed_in(team.facilitator).get(f"/cases/{closed.id}").text
    assert f"/reports/case/{closed.id}/file.pdf" in page
    assert f"/reports/case/{closed.id}/termination.pdf" in page
    pdf = signed_in(team.supervisor).get(f"/reports/case/{closed.id}/termination.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_termination_report_of_an_undecided_case_is_explained_not_denied(signed_in, team, make):
    open_case = make.case(team.facilitator, to="evaluation")
    client = signed_in(team.facilitator)
    assert f"/reports/case/{open_case.id}/termination.pdf" not in client.get(f"/cases/{open_case.id}").text
    response = client.get(f"/reports/case/{open_case.id}/termination.pdf")
    assert response.status_code in (302, 303)
    db.session.rollback()
    denied = db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "access.denied")).scalar_one()
    assert denied == 0
