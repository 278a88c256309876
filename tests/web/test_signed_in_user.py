"""The signed-in user is read as a row and made into a persistent User (web._read_user):
what the ORM's loading and session.add would have made of it."""

from __future__ import annotations

from sqlalchemy import inspect

from caseflow.extensions import db
from caseflow.models import User
from caseflow.web import _read_user


def test_the_user_read_is_persistent_and_clean_in_the_session(app, team):
    user_id = team.facilitator.id
    stored_hash = team.facilitator.password_hash
    db.session.close()
    with app.test_request_context("/"):
        session = db.session()
        user = _read_user(session, user_id)
        state = inspect(user)
        assert state.persistent and user in session and session.get(User, user_id) is user
        assert not (session.new or session.dirty or session.deleted)
        assert {"password_hash", "offline_key"} <= state.expired_attributes
        assert user.password_hash == stored_hash  # read when first used
        assert not session.dirty
        assert _read_user(session, -1) is None
        session.rollback()
