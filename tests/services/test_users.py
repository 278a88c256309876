"""Account changes by an administrator: supervisors may have a coordinator, never a circle."""

from __future__ import annotations

import pytest

from caseflow.errors import ValidationError
from caseflow.extensions import db
from caseflow.models import User
from caseflow.services.account_changes import confirm_change
from caseflow.services.context import Actor
from caseflow.services.users import pending_changes, update_user


def edit(team, user, **changes):
    """Asked by one administrator, confirmed by a second (a new supervisor waits for one)."""
    data = {"full_name": user.full_name, "province_code": user.province_code,
            "supervisor_id": user.supervisor_id, "auditor_scope_province_code": user.auditor_scope_province_code}
    data.update(changes)
    update_user(Actor(user=team.admin), user.id, data)
    for change in pending_changes(user.id):
        confirm_change(Actor(user=team.second_admin), change.id)
    return db.session.get(User, user.id)


@pytest.fixture(autouse=True)
def _second_admin(team, make):
    team.second_admin = make.user("admin", province="31")


def test_a_supervisor_gets_a_coordinator_who_receives_escalations(team):
    updated = edit(team, team.supervisor, supervisor_id=team.other_supervisor.id)
    assert updated.supervisor_id == team.other_supervisor.id


def test_circles_of_supervisors_are_refused(team):
    edit(team, team.supervisor, supervisor_id=team.other_supervisor.id)
    with pytest.raises(ValidationError) as refused:
        edit(team, team.other_supervisor, supervisor_id=team.supervisor.id)
    assert "circle" in str(refused.value.fields["supervisor_id"][0])
    with pytest.raises(ValidationError):
        edit(team, team.supervisor, supervisor_id=team.supervisor.id)


def test_auditors_have_no_supervisor(team):
    with pytest.raises(ValidationError) as refused:
        edit(team, team.auditor, supervisor_id=team.supervisor.id)
    assert "supervisor_id" in refused.value.fields
