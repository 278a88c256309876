"""The programme manager's landing page: headline figures by province and PPKS category,
aggregates only."""

from __future__ import annotations

from caseflow.reports import headline


def test_headline_figures_count_each_kind_of_case(app, team, make):
    make.case(team.facilitator, to="assessment")
    make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    make.case(team.facilitator2, to="closed_unresolved", supervisor=team.supervisor, category="P05")
    make.case(team.other_facilitator, to="recorded")
    totals = headline.totals(team.manager)
    assert (totals.recorded, totals.in_progress, totals.resolved, totals.closed_unresolved) == (4, 2, 1, 1)
    assert totals.rate == 0.5
    provinces = {row.key: row for row in headline.by_province(team.manager)}
    assert provinces["91"].recorded == 3 and provinces["91"].resolved == 1
    assert provinces["53"].in_progress == 1 and provinces["53"].resolved == 0
    categories = {row.key: row for row in headline.by_category(team.manager)}
    assert categories["P05"].closed_unresolved == 1 and categories["P02"].recorded == 3


def test_administrators_figures_are_empty(app, team, make):
    make.case(team.facilitator, to="assessment")
    assert headline.totals(team.admin).recorded == 0 and headline.by_province(team.admin) == []


def test_manager_lands_on_the_figures_without_personal_data(signed_in, team, make):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    make.case(team.other_facilitator, to="assessment")
    client = signed_in(team.manager)
    assert client.get("/").headers["Location"] == "/monitoring"
    page = client.get("/monitoring")
    assert page.status_code == 200
    assert "Papua" in page.text and "Nusa Tenggara Timur" in page.text and "(P02)" in page.text
    for personal in (case.number, case.client.full_name, team.facilitator.full_name,
                     team.other_facilitator.full_name, case.client.nik or "no-nik"):
        assert personal not in page.text
    assert 'href="/monitoring" aria-current="page"' in page.text


def test_figures_in_english_on_the_switch(signed_in, team, make):
    make.case(team.facilitator, to="assessment")
    client = signed_in(team.manager)
    assert "Angka program" in client.get("/monitoring").text
    client.post("/language", data={"locale": "en"})
    page = client.get("/monitoring").text
    assert "Programme figures" in page and "By PPKS category" in page and "Neglected children" in page
