"""Caseflow: case management for social-rehabilitation facilitators."""

from __future__ import annotations

import hmac
from collections import ChainMap
from inspect import CO_COROUTINE
from types import FunctionType
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.templating import Environment as FlaskEnvironment
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import want_bytes
from itsdangerous.signer import HMACAlgorithm
from jinja2 import Template as JinjaTemplate
from markupsafe import (
    Markup,
    _escape_inner,  # markupsafe.escape's own (C, or its Python fallback)
)
from markupsafe import escape as markupsafe_escape
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import logs, resources
from .config import instance_path as config_instance_path
from .config import load_config
from .database import configure_engine
from .extensions import csrf, db, limiter, login_manager, migrate


class RowIdConverter(IntegerConverter):
    """`<int:…>` in every route takes only the ids a row can have (1 to 2**31-1, the
    INTEGER range of both databases): a larger number is a 404, never a database error."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 (werkzeug's name)
        from .schemas import ID_MAX, ID_MIN  # in a function: see create_app

        kwargs.setdefault("min", ID_MIN)
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


class _HmacSha1(HMACAlgorithm):
    """HMAC-SHA1, as Flask signs its session cookie, computed by one call into OpenSSL:
    with Flask's digest function (a Python function around hashlib.sha1) the hmac module
    falls back to its pure-Python HMAC, a few microseconds per signature."""

    def __init__(self) -> None:
        super().__init__(digest_method=None)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha1")


class _SessionSigner(TimestampSigner):
    """The session cookie's signer: the key derived from each secret key (an HMAC of the
    salt) is computed once, not at every signature and every verification. Every cookie is
    still verified in full at every request."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        secret = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(secret)
        if derived is None:
            derived = self._derived[secret] = super().derive_key(secret)
        return derived


class _SessionSerializer(URLSafeTimedSerializer):
    """Flask's session serializer with one signer per salt, made on first use: a signer
    holds nothing of the values it signs."""

    default_signer = _SessionSigner

    def make_signer(self, salt: str | bytes | None = None) -> _SessionSigner:
        signers = self.__dict__.setdefault("_signers", {})
        signer = signers.get(salt)
        if signer is None:
            signer = signers[salt] = super().make_signer(salt)
        return signer


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed session cookie — the same cookie, signed and verified the same way at
    every request — with its signing serializer made once per secret key (and fallback
    keys) instead of anew for every request that reads the cookie, and its signatures
    computed without Python's slow HMAC path (see _SessionSigner, _HmacSha1)."""

    def __init__(self) -> None:
        self._made: tuple[tuple, Any] | None = None

    def get_signing_serializer(self, app: Flask):
        if not app.secret_key:
            return None
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        made = self._made
        if made is None or made[0] != keys:
            # As Flask's: the fallback keys first, the current key (which signs) last.
            made = self._made = (keys, _SessionSerializer(
                [*keys[1], app.secret_key], salt=self.salt, serializer=self.serializer,
                signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method,
                               "algorithm": _HmacSha1()}))
        return made[1]


class _TemplateGlobals(ChainMap):
    """A template's globals as Jinja makes them — its own over the environment's, which stay
    live — whose keys() is a set of the names at the moment it is asked. Jinja subtracts
    these keys from the importing template's at every `{% import %}` and `{% from %}`: with
    the ChainMap's own keys view, a set-like made of Python calls, that took about 40 µs per
    import (a page imports two to four templates), 2 µs now."""

    def keys(self):  # type: ignore[override]
        names = set(self.maps[0])
        for mapping in self.maps[1:]:
            names.update(mapping)
        return names


_new_str = str.__new__


def template_escape(value: Any, /) -> Markup:
    """markupsafe.escape, as a template escapes what it writes (`{{ … }}`), with its two
    common cases without a Python call to Markup.__new__: text escaped by markupsafe's own
    C function and made Markup as Markup(text) makes it; Markup (a macro's or a translated
    word's) is what escaping it gives, an equal Markup, itself. Anything else goes to
    markupsafe.escape. A page writes some 250 values: 1.4-2.2 µs each, now 0.3-0.5."""
    kind = type(value)
    if kind is str:
        return _new_str(Markup, _escape_inner(value))
    if kind is Markup:
        return value
    return markupsafe_escape(value)


class Template(JinjaTemplate):
    """Jinja's template, whose compiled code escapes with template_escape: the name
    `escape` its functions call, from the module Jinja compiled them into."""

    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):  # noqa: A002 (Jinja's name)
        template = super().from_code(environment, code, globals, uptodate)
        template.root_render_func.__globals__["escape"] = template_escape
        return template


class Environment(FlaskEnvironment):
    """Flask's Jinja environment, with each template's globals a _TemplateGlobals and its
    templates escaping with template_escape."""

    template_class = Template

    def make_globals(self, d):
        return _TemplateGlobals({} if d is None else d, self.globals)


class Application(Flask):
    """Flask, with ensure_sync answering at once for a plain function that is no coroutine
    function: Flask asks it of every hook and view at every request (some 15 times), and
    inspect.iscoroutinefunction costs about a microsecond each time. Anything else (a bound
    method, a partial, an async function, a function marked as a coroutine function) is
    asked of Flask's own."""

    def ensure_sync(self, func):
        if (type(func) is FunctionType and not func.__code__.co_flags & CO_COROUTINE
                and "_is_coroutine_marker" not in func.__dict__):
            return func
        return super().ensure_sync(func)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, workflows, blueprints, CLI."""
    app = Application(
        __name__,
        instance_path=config_instance_path(),
        instance_relative_config=True,
        template_folder=str(resources.folder("templates")),
    )
    app.jinja_environment = Environment  # before app.jinja_env is first used
    app.config.update(load_config(app.instance_path, config))
    app.session_interface = SessionInterface()
    proxies = app.config["CASEFLOW_TRUSTED_PROXIES"]
    if proxies:
        # Only behind proxies the operator named: the client address (sign-in throttling,
        # audit) and the scheme (HSTS, secure cookies) as the last N proxies saw them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    logs.init_app(app)  # JSON logs when asked, a request id on every line and audit event
    # Before any route is added: an id in a path that no row can have is no route at all.
    app.url_map.converters["int"] = RowIdConverter

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(resources.folder("migrations")),
        render_as_batch=True, compare_type=True,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    # The imports below are made here, not at the top: every module of the package
    # imports this one first (its parent), so importing the layers from the top would
    # make each module import the whole application, itself included (a cycle through the
    # parent: caseflow.audit.package → caseflow → web → services → caseflow.audit.package).
    from .i18n import setup as i18n_setup

    i18n_setup.init_app(app)

    with app.app_context():
        configure_engine(db.engine, app.config["CASEFLOW_SQLITE_BUSY_TIMEOUT_MS"])

    from . import models  # noqa: F401  (registers every table on the metadata)
    from .workflow import build_engines

    # An invalid workflow file raises WorkflowDefinitionError here: the app does not start.
    app.extensions["caseflow.workflows"] = build_engines(app.config["CASEFLOW_WORKFLOWS_DIR"])

    from .services import aftercare, agenda, feedback

    aftercare.init_app(app)  # a resolution starts aftercare, a step during it makes a contact
    agenda.init_app(app)  # a step of a planned visit's type on its day makes the visit done
    feedback.init_app(app)  # a rejected request is told to the facilitator

    from .reports import init_app as init_reports

    init_reports(app)  # figures read sealed months; a step logged into one joins its cells

    from .web import init_app as init_web

    init_web(app)

    from .api import init_app as init_api

    init_api(app)  # after the web layer: API paths answer their errors as problem+json

    from . import queue, tasks  # noqa: F401  (tasks declares the periodic tasks on the queue)

    queue.init_app(app)  # imports, exports and periodic tasks: `caseflow worker` runs them

    from .cli import register_commands

    register_commands(app)
    return app
