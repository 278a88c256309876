"""Extensions are created here and bound to the application in create_app()."""

from flask import request, session
from flask.globals import request_ctx
from flask_babel import Babel
from flask_limiter import Limiter as _FlaskLimiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager as _FlaskLoginManager
from flask_login.utils import _create_identifier
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as _FlaskSession
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Connection, Engine, MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Limiter(_FlaskLimiter):
    """Flask-Limiter, whose check before every request returns at once while no limit is
    declared that this check would apply: no default, application or blueprint limit, no
    meta limit, no view marked for it. Today there is none (sign-in throttling is
    security.throttle's own), and working out that there is nothing to count took about a
    tenth of a millisecond of every request. Limits on a view (`@limiter.limit`) are checked
    by their decorator, which does not take this shortcut; one declared anywhere else
    makes every request go through Flask-Limiter's check again."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and not self._declares_request_limits():
            return None
        return super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    # After and at the end of every request Flask-Limiter reads its context of the request —
    # making it when it does not exist, about 15 µs — only to find nothing in it: no limit
    # counted, none to deduct, no headers to add. A request no check looked at has none.

    def _has_context(self) -> bool:
        return self in getattr(request_ctx._get_current_object(), "_limiter_request_context", ())

    def _Limiter__check_conditional_deductions(self, response) -> None:
        if self._has_context():
            super()._Limiter__check_conditional_deductions(response)

    @property
    def current_limit(self):
        return super().current_limit if self._has_context() else None

    def _Limiter__release_context(self, _exception: BaseException | None = None) -> None:
        if self._has_context():
            super()._Limiter__release_context(_exception)

    def _declares_request_limits(self) -> bool:
        manager = self.limit_manager
        return bool(manager._application_limits or manager._default_limits or manager._blueprint_limits
                    or manager._endpoint_hints or self._meta_limits or self._marked_for_limiting
                    or self._storage_dead)


class LoginManager(_FlaskLoginManager):
    """Flask-Login, whose "strong" session protection (a session used from another address
    or browser is emptied) looks only at sessions with someone signed in. Flask-Login's own
    also empties an anonymous session that holds anything (the sign-in form's CSRF token):
    the answer to any request sent from the sign-in page — the service worker's script,
    fetched as the page loads — then set the anonymous cookie again, and when it arrived
    after the answer to the sign-in, it replaced the new session: the person was back on
    the sign-in page. It also cleared a "remember me" cookie before it could be read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._session_identifier_generator = self._session_identifier
        self._identifiers: dict[tuple[str | None, ...], str] = {}

    def _session_protection_failed(self) -> bool:
        if "_user_id" not in session:
            return False
        return super()._session_protection_failed()

    def _session_identifier(self) -> str:
        """Flask-Login's identifier of the browser a session belongs to (a SHA-512 of the
        address and the User-Agent, compared at every request with a signed-in user),
        remembered per address, forwarded-for and User-Agent header — all it is made of —
        instead of hashed anew at every request (7 µs). Made by Flask-Login's own function."""
        environ = request.environ
        key = (environ.get("HTTP_X_FORWARDED_FOR"), environ.get("REMOTE_ADDR"), environ.get("HTTP_USER_AGENT"))
        identifier = self._identifiers.get(key)
        if identifier is None:
            if len(self._identifiers) >= _KEPT_IDENTIFIERS:
                self._identifiers.clear()
            identifier = self._identifiers[key] = _create_identifier()
        return identifier


# Browsers (address and User-Agent) whose session identifier is kept: a tablet each.
_KEPT_IDENTIFIERS = 4096


class Session(_FlaskSession):
    """Flask-SQLAlchemy's session, which keeps its SQLite connection from one transaction
    to the next until it is closed (at the end of the request, task or command), instead
    of taking it from the pool at each BEGIN and giving it back at each COMMIT: that
    checkout and checkin were 50 µs of a move's 0.7 ms (`bench/transitions.py`), and a
    request's write on SQLite ends its read first (BEGIN IMMEDIATE), so it paid them
    twice. Between transactions the connection holds no lock. On PostgreSQL the pool
    still lends a connection per transaction: there a write goes on in the request's read
    transaction anyway, and a connection that waited is pinged at checkout, which one kept
    by a long-lived worker would miss."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs) -> Engine | Connection:
        found = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if bind is not None or not isinstance(found, Engine) or found.dialect.name != "sqlite":
            return found
        kept, pool = self.info.get(_KEPT_CONNECTION, (None, None))
        # A disposed engine (a new pool) no longer hands out connections to what it had
        # open, as to a database file replaced under its name: the kept one is let go too,
        # once no transaction of the session is on it.
        if (kept is not None and not kept.closed and kept.engine is found
                and (pool is found.pool or kept.in_transaction())):
            return kept
        self._let_go_of_connection()
        kept = found.connect()
        self.info[_KEPT_CONNECTION] = (kept, found.pool)
        return kept

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go_of_connection()

    def _let_go_of_connection(self) -> None:
        kept, _pool = self.info.pop(_KEPT_CONNECTION, (None, None))
        if kept is not None:
            kept.close()


# Session.info key: the SQLite connection the session keeps between its transactions, with
# the pool it came from.
_KEPT_CONNECTION = "caseflow.kept_connection"

# Objects stay readable after a service commits (the view renders what it just saved);
# every service reloads what it changes with a lock, so nothing stale is ever written.
# The session owns its kept connection's transaction ("control_fully"): whatever began on
# it is the session's to commit or roll back, never joined as someone else's.
db = SQLAlchemy(model_class=Base, session_options={
    "class_": Session, "expire_on_commit": False, "join_transaction_mode": "control_fully"})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
