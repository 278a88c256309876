"""Screens that speak to people: error summaries naming each field and linking to it,
goal rows with ids of their own, required fields marked, the no-JavaScript hint hidden when
scripts run, a user menu for rarely used entries, and dates accepted as people type them."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from caseflow.devdata.demo import seed_demo_data
from caseflow.extensions import db
from caseflow.models import Case, Goal
from tests.support.factories import CLIENT_FORM as CLIENT


def test_an_error_summary_names_each_field_and_links_to_it(signed_in, team):
    response = signed_in(team.facilitator).post("/clients/new", data=CLIENT | {"nik": "9901015508850001",
                                                                                 "full_name": ""})
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S).group(0)
    assert re.search(r'<a href="#f-nik"><strong>NIK</strong>: NIK diawali 99', summary)
    assert re.search(r'<a href="#f-full-name"><strong>Nama lengkap</strong>: ', summary)
    assert 'id="f-full-name"' in response.text and 'id="f-nik"' in response.text


def test_goal_rows_have_ids_of_their_own_and_the_plan_form_marks_what_is_needed(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    html = signed_in(team.facilitator).get(f"/cases/{case.id}").text
    ids = re.findall(r' id="(f-goals-[^"]+)"', html)
    assert ids and len(ids) == len(set(ids)), "each goal field has its own id"
    template = re.search(r"<template data-goal-template>(.*?)</template>", html, re.S).group(1)
    assert 'id="f-goals-__INDEX__-description"' in template  # the script numbers new rows
    for label_for in re.findall(r'<label for="(f-goals-[^"]+)"', html):
        assert f'id="{label_for}"' in html
    assert re.search(r'<p class="hint muted no-js-only">', html)


def test_risk_level_is_marked_required(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    html = signed_in(team.facilitator).get(f"/cases/{case.id}").text
    legend = re.search(r"<legend>Tingkat risiko.*?</legend>", html, re.S).group(0)
    assert 'class="required"' in legend
    assert re.search(r'name="risk_level" value="low"[^>]* required', html)


def test_a_target_date_typed_day_first_is_accepted(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    response = signed_in(team.facilitator).post(f"/cases/{case.id}/plan", data={
        "expected_version": case.version, "summary": "Rencana",
        "goals-0-description": "Kembali sekolah", "goals-0-target_date": "6 Januari 2027",
        "goals-0-responsible_party": "Pendamping",
        "goals-1-description": "KTP", "goals-1-target_date": "7/2/2027", "goals-1-responsible_party": "Dukcapil"})
    assert response.status_code in (302, 303), response.text[:500]
    db.session.rollback()
    assert sorted(str(day) for day in db.session.execute(select(Goal.target_date)).scalars()) == [
        "2027-01-06", "2027-02-07"]


def test_rarely_used_entries_live_in_the_user_menu(signed_in, team):
    html = signed_in(team.facilitator).get("/cases").text
    main = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    menu = re.search(r'<details class="usermenu">.*?</details>', html, re.S).group(0)
    for path in ("/tokens", "/imports"):
        assert path not in main
    assert "/tokens" in menu and "/imports" in menu and "/account/password" in menu


CHILD_CATEGORIES = {"P01", "P02", "P03", "P04", "P05", "P06", "P07"}
WOMEN_CATEGORIES = {"P10", "P23"}


def test_demo_clients_fit_their_category(app):
    seed_demo_data(case_count=18)
    cases = db.session.execute(select(Case).options(selectinload(Case.client))).scalars().all()
    assert len({c.ppks_category_code for c in cases}) >= 5
    for case in cases:
        client = case.client
        opened = case.opened_at.date()
        age = opened.year - client.birth_date.year - ((opened.month, opened.day) < (client.birth_date.month,
                                                                                  client.birth_date.day))
        if case.ppks_category_code in CHILD_CATEGORIES:
            assert age < 18 and client.guardian_name, (case.number, case.ppks_category_code, age)
        elif case.ppks_category_code == "P08":
            assert age >= 60
        else:
            assert age >= 17, (case.number, case.ppks_category_code, age)
        if case.ppks_category_code in WOMEN_CATEGORIES:
            assert client.sex == "F"
