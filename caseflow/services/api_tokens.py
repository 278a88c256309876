"""Personal access tokens: created and revoked by their owner, kept as a sha256 hash,
limited by scopes and an expiry; every use is an audit event on the owner's chain."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer, joinedload

from ..database import utcnow, write_transaction
from ..errors import NotAllowed, NotFound
from ..extensions import db
from ..i18n import _l
from ..models import ApiToken, Role, User
from ..schemas import load
from ..schemas.api import TokenCreateSchema
from .audit import append_event, note_token_use, user_chain
from .context import Actor

TOKEN_PREFIX = "cf_"
# Who may hold which scope: a token never gives more than its owner's role could do.
SCOPES_BY_ROLE = {
    Role.FACILITATOR: ("cases:read", "cases:write"),
    Role.SUPERVISOR: ("cases:read", "cases:write", "audit:read"),
    Role.AUDITOR: ("cases:read", "audit:read"),
    Role.PROGRAMME_MANAGER: (),
    Role.ADMIN: (),
}


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def scopes_for(user: User) -> tuple[str, ...]:
    return SCOPES_BY_ROLE.get(user.role, ())


def _token_dict(token: ApiToken) -> dict:
    return {"id": token.id, "name": token.name, "prefix": token.prefix, "scopes": token.scopes,
            "expires_at": token.expires_at}


def create_token(actor: Actor, data: dict) -> tuple[ApiToken, str]:
    """The owner creates a token for themselves; the secret is returned once, never stored."""
    user = actor.user
    allowed = scopes_for(user)
    if not allowed:
        raise NotAllowed(_l("Your role does not use the API."))
    values = load(TokenCreateSchema(allowed_scopes=allowed), data)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction():
        now = utcnow()
        token = ApiToken(
            user_id=user.id, name=values["name"], prefix=secret[:10], token_hash=hash_secret(secret),
            scopes=" ".join(sorted(set(values["scopes"]))), created_at=now,
            expires_at=now + timedelta(days=values["expires_in_days"]),
        )
        db.session.add(token)
        db.session.flush()
        append_event(chain=user_chain(user.id), action="token.created", actor=actor,
                     after=_token_dict(token))
        return token, secret


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Only the owner revokes their token; revoking twice changes nothing."""
    with write_transaction():
        token = db.session.get(ApiToken, token_id, with_for_update=True)
        if token is None or token.user_id != actor.user_id:
            raise NotFound(_l("No such token."))
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            append_event(chain=user_chain(actor.user_id), action="token.revoked", actor=actor,
                         before=_token_dict(token))
        return token


def revoke_all_of(actor: Actor, user: User, reason: str) -> list[ApiToken]:
    """Every usable token of `user` stops working, inside the caller's transaction: a
    password change or a deactivation ends the tokens with the sessions, so a token taken
    with an old password (or kept by someone who left) does not outlive them."""
    with write_transaction():
        now = utcnow()
        tokens = list(db.session.execute(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                                   ApiToken.expires_at > now)
            .order_by(ApiToken.id).with_for_update()
        ).scalars())
        for token in tokens:
            token.revoked_at = now
            append_event(chain=user_chain(user.id), action="token.revoked", actor=actor,
                         before=_token_dict(token), context={"reason": reason})
        return tokens


def usable_tokens_of(user: User) -> list[ApiToken]:
    now = utcnow()
    return [token for token in tokens_of(user) if token.is_usable(now)]


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ).scalars())


# Every request with a token starts here: built once per process. The owner comes without
# the password hash or the sealed offline key (decrypted on every load; only the session
# question reads it, and tokens may not ask it), and without their province (User.timezone
# reads its zone once per process).
_TOKEN_BY_HASH = (
    select(ApiToken).where(ApiToken.token_hash == bindparam("token_hash"))
    .options(joinedload(ApiToken.user).options(defer(User.password_hash), defer(User.offline_key)))
)


def authenticate(secret: str) -> ApiToken | None:
    """The usable token with this secret (owner active, not revoked, not expired), or None:
    one read, no transaction of its own. Its use is recorded by record_use, or by the audit
    event of the change the request makes (audit.note_token_use)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.execute(_TOKEN_BY_HASH, {"token_hash": hash_secret(secret)}).scalar_one_or_none()
    if token is None or not token.is_usable(utcnow()) or not token.user.active:
        return None
    return token


def record_use(token: ApiToken, actor: Actor, what: str) -> None:
    """A use of the token that wrote no audit event naming it (a read, a refusal): a
    'token.used' event on the owner's chain, before the answer leaves."""
    with write_transaction():
        note_token_use(token.id)
        append_event(chain=user_chain(token.user_id), action="token.used",
                     actor=Actor(user=actor.user, origin_ip=actor.origin_ip,
                                 user_agent=actor.user_agent, via="api"),
                     context={"token_id": token.id, "request": what[:300]})
