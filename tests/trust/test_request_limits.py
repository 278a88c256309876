"""Caseflow's Flask-Limiter skips its check before each request while no limit is declared
that this check would apply (caseflow.extensions.Limiter): every kind of limit that
Flask-Limiter knows must still be enforced once declared. Each test binds its own limiter
to its own small application, not the shared one."""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_limiter.util import get_remote_address

from caseflow.extensions import Limiter


def _app(limiter: Limiter, *, decorate=None, blueprint_limit: str | None = None, **config) -> Flask:
    app = Flask(__name__)
    app.config.update(RATELIMIT_STORAGE_URI="memory://", **config)
    bp = Blueprint("things", __name__)

    def view() -> str:
        return "ok"

    bp.add_url_rule("/thing", "thing", decorate(view) if decorate else view)
    if blueprint_limit:
        limiter.limit(blueprint_limit)(bp)
    app.register_blueprint(bp)
    limiter.init_app(app)
    return app


def _statuses(app: Flask, count: int = 3) -> list[int]:
    client = app.test_client()
    return [client.get("/thing").status_code for _ in range(count)]


def test_no_limit_declared_counts_nothing():
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    app = _app(limiter)
    assert _statuses(app, 5) == [200] * 5
    assert not limiter._declares_request_limits()


def test_a_default_limit_is_enforced():
    limiter = Limiter(key_func=get_remote_address, default_limits=["2 per minute"])
    assert _statuses(_app(limiter)) == [200, 200, 429]


def test_a_default_limit_from_the_configuration_is_enforced():
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    assert _statuses(_app(limiter, RATELIMIT_DEFAULT="2 per minute")) == [200, 200, 429]


def test_an_application_limit_is_enforced():
    limiter = Limiter(key_func=get_remote_address, application_limits=["2 per minute"])
    assert _statuses(_app(limiter)) == [200, 200, 429]


def test_a_limit_on_a_view_is_enforced():
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    assert _statuses(_app(limiter, decorate=limiter.limit("2 per minute"))) == [200, 200, 429]


def test_a_limit_on_a_blueprint_is_enforced():
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    assert _statuses(_app(limiter, blueprint_limit="2 per minute")) == [200, 200, 429]


def test_a_limit_on_a_view_sends_its_headers_and_deducts_only_when_told():
    """The after-request and teardown hooks skip a request no check looked at, not one a
    limit counted: its headers are sent, a conditional deduction is made."""
    limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
    app = _app(limiter, decorate=limiter.limit("2 per minute", deduct_when=lambda response: response.status_code == 200))
    client = app.test_client()
    first = client.get("/thing")
    assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
    assert [client.get("/thing").status_code for _ in range(2)] == [200, 429]


def test_a_request_no_limit_looked_at_gets_no_headers():
    limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
    answer = _app(limiter).test_client().get("/thing")
    assert answer.status_code == 200 and not any(name.startswith("X-RateLimit") for name, _value in answer.headers)
