"""Refuse, before any view runs, what no view can use: control characters and broken text
in the address, the query string, form fields, file names and headers, and JSON bodies
nested too deeply or carrying broken text.

Such input is never typed by a person; it reached the database (PostgreSQL refuses NUL in
text), the JSON decoder (100,000 nested arrays exhaust Python's recursion) or the UTF-8
encoder (a lone surrogate from a JSON "\\ud800" escape) and ended as a 500. One check here
answers 400 naming the parameter instead, as an HTML page or a problem+json document.
Control characters inside JSON string values are left to the schemas, which name the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest

# Tab, newline and carriage return are text; every other C0 character is not (the same
# rule as the schemas' _CleanTextSchema). DEL is harmless to both databases.
_CONTROL = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r"}
FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# The deepest document the API takes (an outbox batch of plans) is six levels deep.
MAX_JSON_DEPTH = 32


class UnusableInput(BadRequest):
    """A parameter no view can use: `parameter` names it, `reason` says what is wrong."""

    def __init__(self, parameter: str, reason: str, description: str | None = None):
        super().__init__(description or _("“%(name)s” contains characters that cannot be used here.",
                                          name=parameter))
        self.parameter = parameter
        self.reason = reason


_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_broken(text: str) -> bool:
    """A lone surrogate (U+D800–U+DFFF) cannot be encoded as UTF-8, so it cannot be stored."""
    return _SURROGATE.search(text) is not None


def _has_control(text: str) -> bool:
    return not _CONTROL.isdisjoint(text)


# Either of the above: one search finds whether a value needs a closer look at all.
_UNUSABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# The WSGI environ keys of the request headers (as request.headers reads them).
_HEADER_KEYS = ("HTTP_", "CONTENT_TYPE", "CONTENT_LENGTH")


def _check_text(name: str, text: str) -> None:
    if _UNUSABLE.search(name) is None and _UNUSABLE.search(text) is None:
        return
    if _has_control(name) or _is_broken(name):
        raise UnusableInput(_printable(name), _("Control characters are not allowed."))
    if _has_control(text):
        raise UnusableInput(name, _("Control characters are not allowed."))
    if _is_broken(text):
        raise UnusableInput(name, _("Not a valid text."))


def _printable(name: str) -> str:
    return "".join("?" if ch in _CONTROL or "\ud800" <= ch <= "\udfff" else ch for ch in name)[:64]


def _pairs(values: Any) -> Iterable[tuple[str, str]]:
    return ((key, value) for key, value in values.items(multi=True) if isinstance(value, str))


def check_request() -> None:
    """Before every request: the address, query string, form, file names and headers."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            _check_text(name, value)
    if request.environ.get("QUERY_STRING"):  # else nothing to parse (most requests)
        for name, value in _pairs(request.args):
            _check_text(name, value)
    if request.mimetype in FORM_MIMETYPES:
        for name, value in _pairs(request.form):
            _check_text(name, value)
        for name, upload in request.files.items(multi=True):
            _check_text(name, upload.filename or "")
    _check_headers()
    if request.is_json and request.content_length != 0:
        check_json_body(request.get_data(cache=True))


def _check_headers() -> None:
    # The header values straight from the environ, one search each: request.headers would
    # build every header's name first. Only when one needs a look are they named.
    for key, value in request.environ.items():
        if key.startswith(_HEADER_KEYS) and _UNUSABLE.search(value) is not None:
            break
    else:
        return
    for name, value in request.headers.items():
        if _has_control(value) or _is_broken(value):
            raise UnusableInput(name, _("Control characters are not allowed."))


def check_json_body(raw: bytes) -> None:
    """Too deep or broken text: 400 naming where. Malformed JSON is left to the views,
    which already answer it with their own message."""
    try:
        document = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        return
    for path, depth, value in _walk(document):
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, str) and _is_broken(value):
            raise UnusableInput(path or "body", _("Not a valid text."))


def _too_deep() -> UnusableInput:
    return UnusableInput("body", _("Nested at most %(depth)s levels deep.", depth=MAX_JSON_DEPTH),
                         _("The JSON body is nested more deeply than %(depth)s levels.", depth=MAX_JSON_DEPTH))


def _walk(document: Any) -> Iterator[tuple[str, int, Any]]:
    """Every value and key with its dotted path and depth, without recursion."""
    stack: list[tuple[str, int, Any]] = [("", 0, document)]
    while stack:
        path, depth, value = stack.pop()
        yield path, depth, value
        if depth > MAX_JSON_DEPTH:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if _is_broken(key):
                    yield _printable(child), depth + 1, key
                stack.append((child, depth + 1, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}" if path else str(index), depth + 1, item)
                         for index, item in enumerate(value))


def init_app(app: Flask) -> None:
    """First of the application's own checks, before sign-in timeouts and the API's
    authentication read anything from the request."""
    app.before_request(check_request)
