"""What every API endpoint shares: authentication (session with CSRF, or a bearer token),
scopes, problem+json errors, If-Match, device time, cursors and exactly-once writes."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from flask_wtf.csrf import CSRFError
from marshmallow import Schema
from werkzeug.exceptions import HTTPException

from ..database import keep_through_writes
from ..errors import CaseflowError, GuardFailed, NotAllowed, NotFound
from ..extensions import csrf, db, login_manager
from ..schemas import ID_MAX, _flatten, is_plausible_day, is_row_id
from ..schemas.api import CaseSummaryOut, strict
from ..security.request_input import UnusableInput
from ..services import access, api_tokens, audit, idempotency
from ..services.cases import record_denied_access
from ..services.context import Actor
from ..workflow.definition import current_locale
from . import present

API_PREFIX = "/api/v1"
PROBLEM_MIMETYPE = "application/problem+json"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Documented request headers of writes.
IDEMPOTENCY_HEADER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "description": "Any unique string (e.g. a UUID). A retry with the same key returns the "
                   "first result and changes nothing again; the same key with another body is refused.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
IF_MATCH_HEADER = {
    "in": "header", "name": "If-Match", "required": False,
    "description": 'The case version the change is based on, as given in the ETag ("3"). '
                   "A stale version gets 409 with the case as it is now.",
    "schema": {"type": "string", "pattern": r'^(W/)?"?[0-9]{1,9}"?$'},
}
DEVICE_TIME_HEADER = {
    "in": "header", "name": "X-Device-Time", "required": False,
    "description": "When the work was done on the tablet (ISO 8601 with offset), for work "
                   "queued offline. The audit trail records it beside the server time.",
    "schema": {"type": "string", "format": "date-time"},
}
WRITE_HEADERS = [IDEMPOTENCY_HEADER, DEVICE_TIME_HEADER]
CASE_WRITE_HEADERS = [IDEMPOTENCY_HEADER, IF_MATCH_HEADER, DEVICE_TIME_HEADER]


# --- problems ------------------------------------------------------------------------


def problem(status: int, title: str, detail: str | None = None, *, slug: str = "about:blank",
            errors: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> Response:
    """An RFC 9457 problem details response."""
    body: dict[str, Any] = {
        "type": slug if slug == "about:blank" else f"urn:caseflow:problem:{slug}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    response = Response(json.dumps(_jsonable(body), ensure_ascii=False), status=status,
                        mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.headers["Content-Language"] = _current_locale()
    return response


def _current_locale() -> str:
    return current_locale()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


_SLUGS = {
    "ValidationError": "validation-error", "NotFound": "not-found", "NotAllowed": "not-allowed",
    "GuardFailed": "guard-failed", "InvalidTransition": "invalid-transition",
    "Conflict": "conflict", "StorageUnavailable": "storage-unavailable",
}

TITLES = {
    "ValidationError": lambda: _("Invalid input"),
    "NotFound": lambda: _("Not found"),
    "NotAllowed": lambda: _("Not allowed"),
    "GuardFailed": lambda: _("Something is missing"),
    "InvalidTransition": lambda: _("Not possible in this state"),
    "Conflict": lambda: _("Conflict"),
    "StorageUnavailable": lambda: _("Storage unavailable"),
}


def problem_document(error: CaseflowError, instance: str) -> dict[str, Any]:
    """The problem details of a typed service error (RFC 9457, with `errors` by field)."""
    name = type(error).__name__
    errors = {field: [str(m) for m in messages] for field, messages in (error.fields or {}).items()}
    document: dict[str, Any] = {}
    if isinstance(error, GuardFailed):
        document["missing"] = [
            {"record": m.record, "field": m.field, "message": str(m.message)} for m in error.missing
        ]
        for m in error.missing:
            errors.setdefault(f"{m.record}.{m.field}" if m.field else m.record, []).append(str(m.message))
    title_of = TITLES.get(name)
    body = {"type": f"urn:caseflow:problem:{_SLUGS.get(name, 'error')}",
            "title": title_of() if title_of else str(error.title), "status": error.status,
            "detail": str(error.message), "instance": instance}
    if errors:
        body["errors"] = errors
    current = error.extra.get("current")
    if current is not None:
        body["current"] = current
    return _jsonable(body | document)


def caseflow_problem(error: CaseflowError) -> Response:
    db.session.rollback()
    if isinstance(error, NotFound | NotAllowed):
        _record_denied(type(error).__name__)
    document = problem_document(error, request.path)
    response = Response(json.dumps(document, ensure_ascii=False), status=error.status,
                        mimetype=PROBLEM_MIMETYPE)
    response.headers["Content-Language"] = _current_locale()
    return response


def _record_denied(what: str) -> None:
    """Every refusal of a known user is evidence, with or without a case in the path."""
    case_id = (request.view_args or {}).get("case_id")
    user = getattr(g, "api_user", None)
    if user is None:
        return
    try:
        record_denied_access(actor(), int(case_id) if case_id is not None else None,
                             what=f"{request.endpoint} ({what})")
    except Exception:  # the refusal must be answered even if the record cannot be written
        current_app.logger.exception("could not record a denied API access")


HTTP_TITLES = {
    400: lambda: _("Bad request"),
    401: lambda: _("Sign-in required"),
    403: lambda: _("Not allowed"),
    404: lambda: _("Not found"),
    405: lambda: _("Method not allowed"),
    406: lambda: _("Not acceptable"),
    409: lambda: _("Conflict"),
    413: lambda: _("Request body too large"),
    415: lambda: _("Unsupported media type"),
    422: lambda: _("Invalid input"),
    428: lambda: _("Precondition required"),
    429: lambda: _("Too many requests"),
    500: lambda: _("Internal server error"),
}


def http_problem(error: HTTPException) -> Response:
    db.session.rollback()
    code = error.code or 500
    title = HTTP_TITLES.get(code, lambda: error.name)()
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    headers = dict(data.get("headers") or {})
    if code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if isinstance(error, CSRFError):
        return problem(400, _("CSRF check failed"), _(
            "Send the page's CSRF token in the X-CSRFToken header, or use a bearer token."),
            slug="csrf", errors={"X-CSRFToken": [str(error.description)]})
    if isinstance(error, UnusableInput):
        return problem(400, title, str(error.description), slug="unusable-input",
                       errors={error.parameter: [error.reason]})
    if code == 400 and messages and "json" in messages and messages["json"] == ["Invalid JSON body."]:
        return problem(400, _("Malformed JSON"), _("The request body is not valid JSON."),
                       slug="malformed-json", errors={"body": [_("Not valid JSON.")]})
    if code == 422 and isinstance(messages, dict):
        errors: dict[str, list[str]] = {}
        for location_messages in messages.values():
            for field, field_messages in _flatten(location_messages).items():
                errors.setdefault(field, []).extend(str(m) for m in field_messages)
        return problem(422, title, _("Some fields need attention."), slug="validation-error",
                       errors=errors, headers=headers)
    if code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return problem(413, title, _("The request body is larger than the limit of %(limit)s bytes.",
                                     limit=limit), slug="too-large",
                       errors={"body": [_("At most %(limit)s bytes.", limit=limit)]}, headers=headers)
    if code == 404:
        return problem(404, title, _("There is nothing at this address of the API."),
                       slug="not-found", headers=headers)
    if code == 405:
        return problem(405, title, _("%(method)s is not available at this address.",
                                     method=request.method), slug="method-not-allowed", headers=headers)
    if code >= 500:
        return problem(code, title, _("The error was recorded. Try again in a moment."),
                       slug="server-error", headers=headers)
    return problem(code, title, str(error.description) if error.description else None,
                   slug="http-" + str(code), headers=headers)


class ApiProblem(HTTPException):
    """A refusal the API itself raises (authentication, headers), with its own problem body."""

    def __init__(self, code: int, title: str, detail: str, *, slug: str,
                 errors: dict | None = None, headers: dict | None = None):
        super().__init__(description=detail)
        self.code = code
        self.problem_response = problem(code, title, detail, slug=slug, errors=errors, headers=headers)

    def get_response(self, environ=None, scope=None):
        return self.problem_response


def install_error_handlers(blp: Blueprint) -> None:
    blp.register_error_handler(CaseflowError, caseflow_problem)
    blp.register_error_handler(ApiProblem, lambda e: e.problem_response)
    for code in (400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, 500):
        blp.register_error_handler(code, http_problem)
    blp.register_error_handler(HTTPException, http_problem)


# --- authentication ------------------------------------------------------------------


def scope(name: str | None, *, session_only: bool = False):
    """Mark a view with the token scope it needs (None: any signed-in user)."""
    def decorate(view: Callable) -> Callable:
        view._api_scope = name
        view._api_session_only = session_only
        return view
    return decorate


def writes(blp: Blueprint, arguments: type[Schema], response: type[Schema], status: int = 200, *,
           headers: list[dict[str, Any]] = WRITE_HEADERS, etag: bool = False,
           needs: str | None = "cases:write") -> Callable:
    """What the document says of a write endpoint, as every one has it: a strict body of
    `arguments`, the write `headers`, the `response` (with the case's version as its ETag
    when `etag`), the scope it `needs`."""
    decorators = (
        # An instance: given the class, webargs would make a schema for every request.
        blp.arguments(strict(arguments)()),
        blp.response(status, response, headers={"ETag": {"$ref": "#/components/headers/ETAG"}} if etag else None),
        blp.doc(parameters=headers),
        scope(needs),
    )

    def decorate(view: Callable) -> Callable:
        for decorator in reversed(decorators):
            view = decorator(view)
        return view
    return decorate


def case_change(blp: Blueprint, arguments: type[Schema], response: type[Schema], status: int = 200) -> Callable:
    """`writes` of a change to one case: If-Match among the headers, the case's new version
    the answer's ETag."""
    return writes(blp, arguments, response, status, headers=CASE_WRITE_HEADERS, etag=True)


def authenticate() -> None:
    if request.method == "OPTIONS":
        return
    header = request.headers.get("Authorization")
    g.api_token = None
    if header is not None:
        kind, _sep, secret = header.partition(" ")
        if kind.lower() != "bearer" or not secret.strip():
            raise ApiProblem(401, _("Sign-in required"), _("Use 'Authorization: Bearer <token>'."),
                             slug="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="caseflow"'})
        token = api_tokens.authenticate(secret.strip())
        if token is None:
            raise ApiProblem(401, _("Sign-in required"),
                             _("The token is unknown, expired or revoked."), slug="invalid-token",
                             headers={"WWW-Authenticate": 'Bearer realm="caseflow", error="invalid_token"'})
        g.api_user, g.api_token = token.user, token
        keep_through_writes(token, token.user)
        audit.count_token_uses()
        # The token's owner is the request's user (language, time zone); no session is made.
        login_manager._update_request_context_with_user(token.user)
    elif current_user.is_authenticated:
        g.api_user = current_user._get_current_object()
        if request.method in UNSAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
    else:
        raise ApiProblem(401, _("Sign-in required"),
                         _("Sign in, or send a personal access token as 'Authorization: Bearer <token>'."),
                         slug="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="caseflow"'})
    token = g.api_token
    # Built now, while the user and token just read are fresh (a write transaction that
    # starts later expires them); the device time is added when the actor is first used.
    g.api_base_actor = Actor.from_request(request, g.api_user, via="api",
                                          token_id=token.id if token is not None else None)
    view = current_app.view_functions.get(request.endpoint)
    needed = getattr(view, "_api_scope", None)
    if g.api_token is not None:
        if getattr(view, "_api_session_only", False):
            raise ApiProblem(403, _("Not allowed"), _("Tokens are managed while signed in, not with a token."),
                             slug="session-only")
        if needed and needed not in g.api_token.scope_list:
            raise ApiProblem(403, _("Insufficient scope"),
                             _("This token lacks the scope %(scope)s.", scope=needed),
                             slug="insufficient-scope",
                             headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'})
    elif needed == "cases:write":
        # Before the body is read: an auditor sending a step learns that it is not theirs
        # to send, not which of its fields were wrong (the refusal is recorded, as any).
        access.require_may_change_cases(g.api_user)


def _ids_in_range(_endpoint, values) -> None:
    """An id beyond what the database stores names nothing: 404, not a database error."""
    for name, value in (values or {}).items():
        if name.endswith("_id") and isinstance(value, int) and not is_row_id(value):
            raise ApiProblem(404, _("Not found"), _("There is nothing at this address of the API."),
                             slug="not-found")


def record_token_use(response: Response) -> Response:
    """Every use of a token is on record before its answer leaves: in the audit event of the
    change it made (same transaction, naming the token), or else — a read, a refusal, an
    answer replayed — as a 'token.used' event on the owner's chain. An error answer always
    gets its own event: the change that named the token may have been rolled back."""
    token = getattr(g, "api_token", None)
    if token is not None and (response.status_code >= 400 or not audit.token_use_recorded(token.id)):
        api_tokens.record_use(token, actor(), f"{request.method} {request.path}")
    return response


def make_blueprint(name: str, description: str) -> Blueprint:
    blp = Blueprint(name, __name__, url_prefix=API_PREFIX, description=description)
    blp.url_value_preprocessor(_ids_in_range)
    blp.before_request(authenticate)
    blp.after_request(record_token_use)
    install_error_handlers(blp)
    return blp


def actor(device_time_value: datetime | None | bool = True) -> Actor:
    """The request's actor (one per request, built on first use); `device_time_value` other
    than True: the same actor with that device time (an outbox entry's)."""
    built = getattr(g, "api_actor", None)
    if built is None:
        built = g.api_actor = replace(g.api_base_actor, device_time=device_time())
    if device_time_value is not True:
        return replace(built, device_time=device_time_value)
    return built


def user():
    return g.api_user


# --- headers -------------------------------------------------------------------------

_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,9})"?$')


def expected_version() -> int | None:
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header.strip())
    if not match:
        raise ApiProblem(400, _("Bad request"), _('If-Match must be a case version as given in the ETag, e.g. "3".'),
                         slug="bad-if-match", errors={"If-Match": [_('A version such as "3".')]})
    return int(match.group(1))


def device_time() -> datetime | None:
    header = request.headers.get("X-Device-Time")
    if header is None:
        return None
    try:
        value = datetime.fromisoformat(header.strip().replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or not is_plausible_day(value.date()):
        raise ApiProblem(400, _("Bad request"), _("X-Device-Time must be an ISO 8601 time with its offset."),
                         slug="bad-device-time",
                         errors={"X-Device-Time": [_("An ISO 8601 time with offset, e.g. 2026-11-23T09:30:00+09:00.")]})
    return value.astimezone(UTC)


def etag(version: int) -> str:
    return f'"{version}"'


# --- cursors ---------------------------------------------------------------------------


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """The position after which the next page starts, or a 400 naming `cursor`."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError
        decoded = []
        for value, kind in zip(values, types, strict=True):
            if kind is datetime:
                parsed = datetime.fromisoformat(value)
                decoded.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
            elif kind is int:
                if not isinstance(value, int) or isinstance(value, bool) or abs(value) > ID_MAX:
                    raise ValueError
                decoded.append(value)
            else:
                decoded.append(kind(value))
        return decoded
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(400, _("Bad request"), _("The cursor is not one this API gave out."),
                         slug="bad-cursor", errors={"cursor": [_("Use the next_cursor of the previous page.")]}) from None


def page(rows: list[Any], limit: int, key: Callable[[Any], list[Any]]) -> tuple[list[Any], str | None]:
    """`rows` were fetched with limit + 1: the extra row says whether there is a next page."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key(rows[-1]))
    return rows, None


# --- exactly-once writes -------------------------------------------------------------


def write(work: Callable[[], Any], schema: Schema, *, status: int = 200,
          present: Callable[[Any], Any] | None = None,
          version_of: Callable[[Any], int] | None = None,
          lock_along: Callable[[], idempotency.LockAlong | None] | None = None) -> Response:
    """Run a service call once per Idempotency-Key, answer with its result as JSON.
    `lock_along`: the lock the call takes first, taken with the key (`run_once`)."""
    key = request.headers.get("Idempotency-Key")
    body = idempotency.canonical_body(request.get_data(cache=True))
    fingerprint = idempotency.fingerprint(request.method, request.path, body)

    def run() -> tuple[int, str, str | None]:
        result = work()
        db.session.flush()  # foreign keys set through relationships are shown as saved
        if present is not None:
            result = present(result)
        version = version_of(result) if version_of else None
        return status, idempotency.dumps(schema.dump(result)), etag(version) if version else None

    result = idempotency.run_once(g.api_user.id, key, fingerprint, request.method, request.path, run, lock_along)
    response = Response(result.body, status=result.status, mimetype="application/json")
    if result.etag:
        response.headers["ETag"] = result.etag
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


_CASE_SUMMARY_OUT = CaseSummaryOut()


def write_case(work: Callable[[], Any], status: int = 200,
               lock_along: Callable[[], idempotency.LockAlong | None] | None = None) -> Response:
    """`write` of a change whose answer is the case's summary, its version the ETag."""
    return write(work, _CASE_SUMMARY_OUT, status=status, present=present.case_summary,
                 version_of=lambda c: c["version"], lock_along=lock_along)


def json_body() -> dict:
    """The raw JSON body for the service (already validated by the strict schema)."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}

