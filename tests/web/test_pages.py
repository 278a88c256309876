"""Error pages, the time filters (WIB / WITA / WIT) and the layout every page shares."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from flask import render_template_string

from caseflow.models import User
from caseflow.web.formatting import localdate, localtime, utc
from tests.support.clients import isolated_client


@pytest.mark.parametrize("zone, expected", [
    ("Asia/Jakarta", "5 Jan 2026 08.30 WIB"),
    ("Asia/Makassar", "5 Jan 2026 09.30 WITA"),
    ("Asia/Jayapura", "5 Jan 2026 10.30 WIT"),
])
def test_localtime_shows_the_province_zone(app, zone, expected):
    moment = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)
    with app.test_request_context("/"):
        assert localtime(moment, zone).replace(":", ".") == expected
        assert utc(moment) == "2026-01-05 01:30:00 UTC"
        assert localtime(None) == "" and utc(None) == ""


def test_viewer_zone_follows_the_signed_in_users_province(app, team):
    from flask_login import login_user

    late_evening = datetime(2026, 1, 5, 16, 30, tzinfo=UTC)
    with app.test_request_context("/"):
        login_user(team.other_facilitator)  # NTT: WITA
        text = render_template_string("{{ when|localtime }} · {{ when|localdate }} · {{ day|date }}",
                                      when=late_evening, day=date(2027, 1, 31))
        assert text.replace(":", ".") == "6 Jan 2026 00.30 WITA · 6 Jan 2026 · 31 Jan 2027"
    assert isinstance(team.other_facilitator, User)


def test_dates_follow_the_language(app):
    with app.test_request_context("/"):
        assert localdate(date(2026, 8, 17)) in ("17 Agu 2026", "17 Agt 2026")


def test_error_pages_are_templated_and_translated(client, team):
    from tests.support.clients import login

    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "Halaman tidak ditemukan" in missing.text
    assert 'class="topbar"' in missing.text
    login(client, "fac")
    wrong_method = client.get("/logout")
    assert wrong_method.status_code == 405 and "Galat 405" in wrong_method.text
    too_big = client.post("/clients/new", data={"full_name": "x" * (3 * 1024 * 1024)})
    assert too_big.status_code == 413 and "Galat 413" in too_big.text
    client.post("/language", data={"locale": "en"})
    assert "Page not found" in client.get("/no-such-page").text


def test_server_error_page(app_with):
    # A route of its own: the shared application has served requests and takes no more.
    app = app_with(PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    response = isolated_client(app).get("/boom")
    assert response.status_code == 500 and "Galat 500" in response.text


def test_layout_shows_user_role_zone_and_menu(signed_in, team):
    page = signed_in(team.other_facilitator).get("/cases")
    assert team.other_facilitator.full_name in page.text
    assert "Pendamping" in page.text and "WITA" in page.text
    assert 'href="/cases" aria-current="page">Kasus saya' in page.text
    assert 'href="/clients/new">Daftarkan klien' in page.text
    assert '<script src="/static/js/app.js" defer></script>' in page.text


def test_pages_stay_small(signed_in, team, make):
    case = make.case(team.facilitator, to="evaluation")
    client = signed_in(team.facilitator)
    for url in ("/cases", f"/cases/{case.id}", f"/cases/{case.id}/steps/new", "/clients/new"):
        assert len(client.get(url).data) < 150_000
    css = client.get("/static/css/app.css")
    js = client.get("/static/js/app.js")
    assert len(css.data) + len(js.data) < 40_000
    css.close()
    js.close()


def test_case_page_in_english(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    client = signed_in(team.facilitator)
    client.post("/language", data={"locale": "en"})
    page = client.get(f"/cases/{case.id}")
    assert "What can be done now" in page.text and "Intervention planning" in page.text
    assert "Start intervention" in page.text and "Add a goal" in page.text


def test_an_id_no_row_can_have_is_not_found_on_every_route(app, signed_in, team):
    """2**31 in a path would be a database error on PostgreSQL: no route takes it."""
    client = signed_in(team.admin)
    checked = []
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule or "GET" not in rule.methods:
            continue
        path = re.sub(r"<[^>]+>", "x", re.sub(r"<int:[^>]+>", str(2**31), rule.rule))
        response = client.get(path)
        assert response.status_code == 404, (rule.rule, response.status_code)
        checked.append(rule.rule)
    assert "/cases/<int:case_id>" in checked and len(checked) > 10



def test_template_globals_stay_live_and_imported_macros_see_them(app):
    """Caseflow's Jinja environment makes the same globals as Jinja's (a template's own over
    the environment's, still live) and renders the same, only with a cheaper keys()."""
    from flask.templating import Environment as FlaskEnvironment
    from jinja2 import DictLoader

    from caseflow import Environment

    templates = {
        "m.html": "{% macro hi() %}{{ greeting }}{% endmacro %}",
        "page.html": '{% import "m.html" as m %}{% from "m.html" import hi %}{{ m.hi() }}|{{ hi() }}|{{ greeting }}',
    }
    rendered = []
    for kind in (Environment, FlaskEnvironment):
        env = kind(app, loader=DictLoader(templates))
        env.globals["greeting"] = "a"
        page = env.get_template("page.html")
        first = page.render()
        env.globals["greeting"] = "b"  # changed after the templates were loaded
        rendered.append((first, page.render(), set(page.globals.keys()), page.globals["greeting"]))
    assert rendered[0] == rendered[1] == ("a|a|a", "a|a|b", set(env.globals), "b")
    special = Environment(app, loader=DictLoader(templates)).get_template("m.html", globals={"greeting": "own"})
    assert special.globals["greeting"] == "own" and special.globals.keys() == set(env.globals)


def test_templates_escape_what_they_write_as_markupsafe_does(app):
    """template_escape gives what markupsafe.escape gives, of the same type, for every kind
    of value a template writes; the application's templates write with it."""
    from markupsafe import Markup, escape

    from caseflow import template_escape

    class Html:
        def __html__(self):
            return "<b>safe</b>"

    class Text(str):
        pass

    for value in ("plain", "", "<a href='x'>&\"</a>", Markup("<i>kept</i>"), 12, 1.5, None, Html(),
                  Text("<sub>"), b"<bytes>"):
        assert template_escape(value) == escape(value) and type(template_escape(value)) is Markup, value
    page = app.jinja_env.from_string("{{ text }}|{{ safe }}|{{ number }}")
    assert page.root_render_func.__globals__["escape"] is template_escape
    assert page.render(text="<&>", safe=Markup("<br>"), number=3) == "&lt;&amp;&gt;|<br>|3"


def test_hooks_and_views_are_called_as_flask_would(app):
    """Application.ensure_sync hands back a plain function as it is and leaves everything
    else to Flask: an async view is still run (and answered) through Flask's own."""
    import functools

    from flask import Flask

    def plain():
        return "plain"

    async def coroutine():
        return "async"

    assert app.ensure_sync(plain) is plain
    partial = functools.partial(plain)
    assert app.ensure_sync(partial) is Flask.ensure_sync(app, partial)
    try:
        wrapped = app.ensure_sync(coroutine)
    except RuntimeError:  # Flask's own answer without asgiref installed
        with pytest.raises(RuntimeError):
            Flask.ensure_sync(app, coroutine)
    else:
        assert wrapped is not coroutine and wrapped() == "async"
