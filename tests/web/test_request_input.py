"""The request-input check looks closely at a header, a query parameter or a form field only
when one search finds a character it refuses: the answer (which parameter, which reason)
is the same as looking closely at every one of them."""

from __future__ import annotations

import pytest
from flask import Flask, request
from flask_babel import Babel
from hypothesis import given, settings
from hypothesis import strategies as st

from caseflow.security import request_input
from caseflow.security.request_input import UnusableInput

CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}
app = Flask(__name__)
Babel(app)  # the refusals are worded through Flask-Babel


def _refused(text: str) -> bool:
    return any(ch in CONTROL or "\ud800" <= ch <= "\udfff" for ch in text)


def _outcome(**context) -> tuple[str, str] | None:
    with app.test_request_context("/", **context):
        try:
            request_input.check_request()
        except UnusableInput as error:
            return error.parameter, error.reason
    return None


# Header values as a WSGI server hands them over (latin-1: any byte), put in the environ as
# a server would (the test client refuses some of them).
latin1 = st.text(alphabet=st.characters(max_codepoint=255), max_size=12)
text = st.text(alphabet=st.one_of(st.characters(max_codepoint=0x7F), st.sampled_from("é\ud800\udfff\u2028")),
               max_size=12)
# A query string is bytes: what a surrogate would be arrives decoded as U+FFFD.
query_text = st.text(alphabet=st.one_of(st.characters(max_codepoint=0x7F), st.just("é")), max_size=12)
HEADER_KEYS = ["HTTP_USER_AGENT", "HTTP_X_THING", "HTTP_ACCEPT", "CONTENT_TYPE", "HTTP_CONTENT_TYPE"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(HEADER_KEYS), latin1, max_size=4))
def test_headers_are_refused_exactly_when_one_has_a_control_character(environ):
    with app.test_request_context("/", environ_overrides=environ):
        expected = next((name for name, value in request.headers.items() if _refused(value)), None)
    outcome = _outcome(environ_overrides=environ)
    assert (outcome[0] if outcome else None) == expected


@settings(max_examples=300, deadline=None)
@given(text, text)
def test_a_name_or_value_is_refused_exactly_when_it_has_a_control_character_or_broken_text(name, value):
    with app.test_request_context("/"):
        try:
            request_input._check_text(name, value)
        except UnusableInput:
            refused = True
        else:
            refused = False
    assert refused == (_refused(name) or _refused(value))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(query_text, query_text), max_size=4))
def test_query_parameters_are_refused_exactly_when_one_has_a_control_character(pairs):
    outcome = _outcome(query_string=pairs)
    with app.test_request_context("/", query_string=pairs):
        parsed = list(request.args.items(multi=True))
    assert (outcome is None) == (not any(_refused(name) or _refused(value) for name, value in parsed))


@pytest.mark.parametrize(("headers", "named"), [
    ({"X-Thing": "a\x1fb"}, "X-Thing"),
    ({"User-Agent": "ok", "X-Thing": "\x00"}, "X-Thing"),
    ({"Content-Type": "text/plain\x01"}, "Content-Type"),
])
def test_the_refused_header_is_named(headers, named):
    assert _outcome(headers=headers)[0] == named


def test_tab_newline_and_carriage_return_are_text():
    assert _outcome(headers={"X-Thing": "a\tb"}, query_string={"q": "line\r\nnext\tcol"}) is None
