"""Account changes by an administrator: supervisors may have a coordinator, never a circle."""

from __future__ import annotations

import pytest

from caseflow.errors import ValidationError
from caseflow.services.context import Actor
from caseflow.services.users import update_user


def edit(team, user, **changes):
    data = {"full_name": user.full_name, "province_code": user.province_code,
            "supervisor_id": user.supervisor_id, "auditor_scope_province_code": user.auditor_scope_province_code}
    data.update(changes)
    return update_user(Actor(user=team.admin), user.id, data)


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
