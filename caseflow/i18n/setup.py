"""Flask-Babel wiring: Bahasa Indonesia by default, English on a per-user switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, session
from flask_babel import get_locale, get_translations
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from ..extensions import babel

LOCALES = ("id", "en")


def select_locale() -> str:
    if not has_request_context():
        return "en"  # command line, logs and tests outside requests
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.locale if current_user.locale in LOCALES else "id"
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    # Indonesian unless the person chose otherwise: shared tablets often run English browsers.
    return "id"


def select_timezone() -> str:
    if not has_request_context():
        return "UTC"
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.timezone
    return "Asia/Jakarta"


def request_translations():
    """Flask-Babel's catalog for the current locale, remembered with the locale it was found
    for: a new locale (force_locale, refresh) finds its own."""
    state = g.get("_flask_babel")
    if state is not None:
        locale = getattr(state, "babel_locale", None)
        remembered = getattr(state, "caseflow_translations", None)
        if locale is not None and remembered is not None and remembered[0] is locale:
            return remembered[1]
    translations = get_translations()
    state = g.get("_flask_babel")
    if state is not None:
        state.caseflow_translations = (getattr(state, "babel_locale", None), translations)
    return translations


def request_locale_code() -> str | None:
    """str(get_locale()) — "id", "en" — remembered with the locale it was made for, as the
    catalog is: pages ask a dozen times and more (dates, numbers, labels), and writing a
    Babel locale as text costs more than finding it."""
    state = g.get("_flask_babel")
    if state is not None:
        remembered = getattr(state, "caseflow_locale_code", None)
        if remembered is not None and remembered[0] is getattr(state, "babel_locale", None):
            return remembered[1]
    locale = get_locale()
    if locale is None:
        return None
    code = str(locale)
    state = g.get("_flask_babel")
    if state is not None:
        state.caseflow_locale_code = (locale, code)
    return code


@pass_eval_context
def template_gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
    """Jinja's new-style `gettext` (ext.i18n): the translation, marked safe where the template
    escapes, then always formatted with `variables` (so "%%" is "%" with or without them)."""
    text = request_translations().ugettext(string)
    return (Markup(text) if eval_ctx.autoescape else text) % variables


def init_app(app: Flask) -> None:
    # One catalog folder per area of the application (core, web, api, …): Flask-Babel
    # merges them, so areas can be translated without editing one shared file.
    root = Path(__file__).parent.parent / "translations"
    areas = sorted(str(p) for p in root.iterdir() if p.is_dir()) if root.exists() else []
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", ";".join(areas) or str(root))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # A page asks for a hundred or more translations; Flask-Babel finds the catalog anew for
    # each (about 8 µs, a fifth of a page's rendering). The same lookups, remembered per locale.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
    # A page's `_()` went through three calls of Jinja's (`_` finding `gettext`, which calls
    # the lambda above), each with Jinja's checks: about half of a translation's cost. The
    # same new-style gettext in one call.
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext)

    app.jinja_env.globals["get_locale"] = get_locale  # a global: the same at every page
