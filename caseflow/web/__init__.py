"""HTML blueprints. Views are thin: parse → call a service → render."""

from __future__ import annotations

from functools import cache

from flask import Flask, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.util import identity_key

from ..database import end_request_read, forget_kept, keep_through_writes, read_one_before_begin
from ..extensions import db, login_manager
from ..i18n import _l
from ..models import User
from ..prepared import Prepared
from ..security import request_input, throttle
from ..session_state import READS_OFFLINE_KEY
from . import account_changes, errors, formatting, navigation, ops
from .admin import bp as admin_bp
from .aftercare import bp as aftercare_bp
from .agenda import bp as agenda_bp
from .audit import bp as audit_bp
from .auth import bp as auth_bp
from .cases import bp as cases_bp
from .clients import bp as clients_bp
from .evidence import bp as evidence_bp
from .evidence import policy_bp
from .exports import bp as exports_bp
from .feedback import bp as feedback_bp
from .handover import bp as handover_bp
from .imports import bp as imports_bp
from .main import bp as main_bp
from .monitoring import bp as monitoring_bp
from .offline import bp as offline_bp
from .referrals import bp as referrals_bp
from .reports import bp as reports_bp
from .supervision import bp as supervision_bp
from .supervision_sessions import bp as supervision_sessions_bp
from .targets import bp as targets_bp
from .tokens import bp as tokens_bp

# Two years: browsers keep to HTTPS for this long after one visit over HTTPS (at least a
# year is what browsers' preload lists ask). Not for subdomains: those are not ours to
# decide.
HSTS_MAX_AGE = 2 * 365 * 24 * 3600
# On every answer unless the view set its own.
SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


@cache
def _user_statement(with_offline_key: bool) -> tuple[Prepared, tuple[str, ...]]:
    """The signed-in user's columns, in one statement built once per process (and sent
    prepared: caseflow.prepared), and the
    attribute each column fills. Not the password hash, nor — except where a request reads
    it — the sealed offline key (decrypted on every load). Not their province either: its
    time zone, what pages read of it, is reference data read once per process
    (User.timezone)."""
    table = User.__table__
    skipped = {"password_hash"} | (set() if with_offline_key else {"offline_key"})
    columns = [column for column in table.c if column.key not in skipped]
    mapper = User.__mapper__
    return (Prepared(select(*columns).where(table.c.id == bindparam("user_id"))),
            tuple(mapper.get_property_by_column(column).key for column in columns))


def _read_user(session, user_id: int) -> User | None:
    """The signed-in user, read as a row and made into a persistent User: the ORM's own
    loading (session.execute(select(User)…)) costs 60–80 µs more of every request for the
    one row. The object is what the ORM would have made — in the identity map, clean, its
    relationships loaded when first used — except that the columns not read (the password
    hash, the offline key) are expired rather than deferred: the first one used reads both
    (as services.cases does with the sign-off it inserts)."""
    statement, keys = _user_statement(request.endpoint in READS_OFFLINE_KEY)
    # Before the request's transaction begins (PostgreSQL): a request that reads nothing
    # else — the tablet's session question, the start page's redirect — sends no BEGIN and
    # no ROLLBACK at all.
    row = read_one_before_begin(session.connection(), statement, {"user_id": user_id})
    if row is None:
        return None
    user = User.__mapper__.class_manager.new_instance()
    user.__dict__.update(zip(keys, row, strict=True))
    make_transient_to_detached(user)  # its identity set; the columns not read expired
    _attach(session, user)
    return user


def _attach(session, user: User) -> None:
    """`session.add(user)` without its save-update cascade, which walks every relationship
    of the user to find none loaded (as services.locking does with a locked case)."""
    session._update_impl(instance_state(user))


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.login_message = _l("Sign in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = str  # flash the message in the reader's language
    # "Remember me" follows the session cookie's rules (Secure unless told otherwise).
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE", True))

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        # The id carries the account's session generation: logout, deactivation and a
        # password change bump it, so every older session stops working at once.
        try:
            user_id, generation = (int(part) for part in session_id.split(":"))
        except ValueError:
            return None
        session = db.session()
        if identity_key(User, user_id) in session.identity_map:  # read already in this session
            user = session.get(User, user_id)
        else:
            user = _read_user(session, user_id)
        if user is None or user.session_generation != generation or not user.active:
            return None
        keep_through_writes(user)
        return user

    @app.teardown_request
    def end_the_requests_read(exception=None) -> None:
        forget_kept()
        end_request_read(exception)  # a COMMIT keeps the worker's prepared statements

    request_input.init_app(app)  # before every other check reads the request
    navigation.init_app(app)
    formatting.init_app(app)
    account_changes.init_app(app)
    errors.init_app(app)

    for blueprint in (auth_bp, main_bp, cases_bp, tokens_bp, evidence_bp, policy_bp, reports_bp, exports_bp,
                      imports_bp, supervision_bp, audit_bp, monitoring_bp, admin_bp,
                      clients_bp, referrals_bp, aftercare_bp, agenda_bp, targets_bp, offline_bp, feedback_bp,
                      handover_bp, supervision_sessions_bp):
        app.register_blueprint(blueprint)
    throttle.init_app(app)  # sign-in throttling per account and address
    ops.init_app(app)  # /readyz, /metrics, the background tasks page

    @app.after_request
    def security_headers(response):
        # The names the view set, read once: werkzeug looks each name up by scanning every
        # header, and setdefault would do that twice for each of these.
        headers = response.headers
        present = {name.lower() for name, _value in headers}
        missing = [header for header in SECURITY_HEADERS if header[0].lower() not in present]
        if request.is_secure and "strict-transport-security" not in present:
            # Behind a proxy, only when CASEFLOW_TRUSTED_PROXIES says so.
            missing.append(("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE}"))
        if "cache-control" not in present and request.endpoint != "static":
            # Pages and API answers carry personal data (cases, clients, the audit trail) and
            # even the sign-in page a CSRF token: no browser or proxy keeps a copy. A shared
            # tablet's back button must not show the previous person's case.
            missing.append(("Cache-Control", "no-store"))
        headers.extend(missing)
        return response
