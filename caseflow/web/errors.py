"""The typed service errors (caseflow/errors.py) as pages and messages.

- ValidationError: the view re-renders its form with the messages next to the fields
  (`render_invalid`); one that escapes a view becomes a flash message.
- NotFound / NotAllowed: the 404 / 403 page; on a case page the refused attempt is also
  recorded in the audit trail.
- GuardFailed / InvalidTransition / Conflict: back to the page the form came from, with a
  message that lists what is missing or what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..errors import (
    CaseflowError,
    Conflict,
    GuardFailed,
    InvalidTransition,
    NotAllowed,
    NotFound,
    TooMany,
    ValidationError,
)
from ..extensions import db
from ..i18n import _l
from ..models import Case
from ..schemas import ascii_number
from ..security.request_input import UnusableInput
from ..services.cases import record_denied_access
from .formatting import state_title

PAGE_TITLES = {
    400: _l("The request could not be understood"),
    403: _l("You may not open this page"),
    404: _l("Page not found"),
    405: _l("This action is not available here"),
    413: _l("What you sent is too large"),
    422: _l("Some fields need attention"),
    429: _l("Too much at once"),
    500: _l("Something went wrong on our side"),
}

PAGE_TEXTS = {
    400: _l("Go back and try again. If you filled in a form, check what you entered."),
    403: _l("Your role does not give access to this. If you think it should, ask your supervisor "
            "or administrator."),
    404: _l("It does not exist, or it is not assigned to you."),
    405: _l("Use the buttons on the page instead of typing the address."),
    413: _l("Send less at once (at most 2 MB)."),
    422: _l("Check the fields marked below."),
    429: _l("Wait until what you already asked for is done, then try again."),
    500: _l("The error was recorded. Try again in a moment."),
}


def field_errors(error: CaseflowError) -> dict[str, list[str]]:
    """`{field: [message, …]}` with every message rendered in the reader's language."""
    return {name: [str(m) for m in messages] for name, messages in (error.fields or {}).items()}


def errors_by_row(error: CaseflowError, items: str, rows: list[Any], field_name: Callable[[Any, str], str],
                  other: Callable[[str], str] = lambda name: name) -> dict[str, list[str]]:
    """`field_errors` of a form with a row per item: the service names an item's field by
    the item's position in what was sent (`goals.2.description`), the form by the item's
    row (`field_name(rows[2], "description")`); `other` names any other field."""
    errors = {}
    for name, messages in field_errors(error).items():
        parts = name.split(".")
        position = ascii_number(parts[1]) if len(parts) == 3 and parts[0] == items else None
        if position is not None and position < len(rows):
            name = field_name(rows[position], parts[2])
        else:
            name = other(name)
        errors[name] = messages
    return errors


def render_invalid(template: str, error: ValidationError, status: int = 422, **context: Any):
    """Re-render a form after a ValidationError: the messages go next to their fields
    (`errors` in the template) and the status says the input was refused."""
    context.setdefault("form", request.form)
    errors = field_errors(error)
    return render_template(template, errors=errors, error_summary=str(error.message), **context), status


def safe_return_url(default: str | None = None) -> str:
    """The page to go back to: the form's own `next`, else the referrer, if on this site."""
    for candidate in (request.form.get("next"), request.referrer):
        if candidate and _same_site(candidate):
            return candidate
    return default or url_for("main.home")


def is_plain_address(url: str) -> bool:
    """No character a browser would drop or reinterpret: browsers remove tabs and newlines
    from an address (`/<TAB>/host` becomes `//host`, another site) and read a backslash as a
    slash, and a newline cannot go into a Location header at all (a 500 after sign-in)."""
    return not any(ch <= " " or ch in "\x7f\\" for ch in url)


def _same_site(url: str) -> bool:
    if not is_plain_address(url):
        return False
    parts = urlsplit(url)
    if parts.scheme and parts.scheme not in ("http", "https"):
        return False
    if parts.netloc and parts.netloc != request.host:
        return False
    path = parts.path or "/"
    return path.startswith("/") and not path.startswith("//")


def flash_error(error: CaseflowError) -> None:
    """One flash message naming what is missing or what changed."""
    if isinstance(error, GuardFailed):
        flash({"text": str(error.message), "items": [str(m) for m in error.missing]}, "error")
    elif error.fields:
        flash({"text": str(error.message),
               "items": [m for messages in field_errors(error).values() for m in messages]}, "error")
    elif isinstance(error, Conflict):
        flash({"text": str(error.message), "items": _what_changed(error)}, "warning")
    else:
        flash(str(error.message), "error")


def _what_changed(error: Conflict) -> list[str]:
    """Where the case stands now, so the person knows what to look at again."""
    current = error.extra.get("current") or {}
    if not current.get("id") or current.get("reassigned"):
        return []
    case = db.session.get(Case, current["id"])
    if case is None or not getattr(current_user, "is_authenticated", False):
        return []
    return [_("The case is now in the stage “%(state)s”.", state=state_title(case))]


def _record_denied(what: str) -> None:
    """A refused attempt at a page leaves an audit event in the user's chain (with the
    case, on a case page). A view that recorded the refusal itself sets g.denial_recorded."""
    if request.endpoint is None or g.get("denial_recorded"):
        return  # no such page (a mistyped address), or already recorded
    if not getattr(current_user, "is_authenticated", False):
        return
    case_id = (request.view_args or {}).get("case_id")
    # Not at the top: web.auth imports this module for its error pages (a cycle).
    from .auth import request_actor

    try:
        record_denied_access(request_actor(), int(case_id) if case_id is not None else None,
                             what=f"{request.endpoint} ({what})")
        g.denial_recorded = True
    except Exception:  # the refusal page must show even if the record cannot be written
        current_app.logger.exception("could not record a denied access")


def error_page(status: int, message: Any = None) -> tuple[str, int]:
    return render_template(
        "errors/error.html", status=status, title=PAGE_TITLES.get(status, PAGE_TITLES[400]),
        text=PAGE_TEXTS.get(status, PAGE_TEXTS[400]), message=message,
    ), status


def init_app(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def not_found(error: NotFound):
        _record_denied("not found")
        return error_page(404, error.message)

    @app.errorhandler(NotAllowed)
    def not_allowed(error: NotAllowed):
        _record_denied("not allowed")
        return error_page(403, error.message)

    @app.errorhandler(TooMany)
    def too_many(error: TooMany):
        db.session.rollback()
        return error_page(429, error.message)

    @app.errorhandler(GuardFailed)
    @app.errorhandler(InvalidTransition)
    @app.errorhandler(Conflict)
    @app.errorhandler(ValidationError)
    def back_with_message(error: CaseflowError) -> Response:
        db.session.rollback()
        flash_error(error)
        return redirect(safe_return_url(), code=303)

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError):
        return error_page(400, _("The form expired or was sent from elsewhere. Reload the page "
                                 "and send it again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return error  # the JSON API answers its own errors (problem+json)
        if error.code in (403, 404):
            _record_denied(str(error.code))
        if error.code in PAGE_TITLES:
            return error_page(error.code, error.description if isinstance(error, UnusableInput) else None)
        return error

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        db.session.rollback()
        return error_page(500)
