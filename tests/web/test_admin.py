"""The administrator's pages: accounts, creating one (errors at the field, nothing saved),
details, supervisor's team, auditor scope, deactivation (open cases first)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.errors import NotAllowed, ValidationError
from caseflow.extensions import db
from caseflow.models import AccountChange, User
from caseflow.services import users as user_services
from caseflow.services.context import Actor
from tests.support.queries import count, events, reload

NEW = {"username": "pendamping.baru", "full_name": "Pendamping Baru", "role": "facilitator",
       "password": "Sungai-Baliem-2026!", "province_code": "91", "locale": "id"}


def user_count() -> int:
    return count(User)


def test_admin_lands_on_users_and_sees_roles_without_case_content(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    client = signed_in(team.admin)
    assert client.get("/").headers["Location"] == "/admin/users"
    page = client.get("/admin/users")
    assert page.status_code == 200
    for person in (team.facilitator, team.supervisor, team.auditor, team.manager):
        assert person.username in page.text
    assert case.number not in page.text and case.client.full_name not in page.text
    only = client.get("/admin/users", query_string={"role": "auditor"}).text
    assert f"<span class=\"muted\">{team.auditor.username}</span>" in only
    assert f"<span class=\"muted\">{team.facilitator.username}</span>" not in only


def test_admin_creates_a_facilitator_in_a_team(signed_in, team):
    client = signed_in(team.admin)
    assert client.get("/admin/users/new").status_code == 200
    response = client.post("/admin/users/new", data={**NEW, "supervisor_id": team.supervisor.id})
    assert response.status_code == 303
    db.session.rollback()
    created = db.session.execute(select(User).where(User.username == "pendamping.baru")).scalar_one()
    assert created.supervisor_id == team.supervisor.id and created.role == "facilitator"
    assert response.headers["Location"] == f"/admin/users/{created.id}"
    assert len(events("user.created")) == 10  # the team's nine, and this one


@pytest.mark.parametrize("change, field", [
    ({"username": "A B"}, "username"),
    ({"username": "fac"}, "username"),
    ({"password": "short"}, "password"),
    ({"role": "king"}, "role"),
    ({"province_code": ""}, "province-code"),
    ({"province_code": "99"}, "province-code"),
    ({"full_name": ""}, "full-name"),
])
def test_refused_account_is_named_at_the_field_and_nothing_saved(signed_in, team, change, field):
    client = signed_in(team.admin)
    before = user_count()
    response = client.post("/admin/users/new", data={**NEW, **change})
    assert response.status_code == 422
    assert f'id="f-{field}-error-1"' in response.text
    assert user_count() == before


def confirm_all(signed_in, admin) -> None:
    """A second administrator confirms every change waiting on the admin pages."""
    second = signed_in(admin)
    db.session.rollback()
    for change in db.session.execute(select(AccountChange).where(
            AccountChange.status == "pending").order_by(AccountChange.id)).scalars().all():
        assert second.post(f"/admin/changes/{change.id}/confirm").status_code == 303


def test_admin_moves_a_facilitator_and_sets_an_auditors_scope(signed_in, team, make):
    client = signed_in(team.admin)
    page = client.get(f"/admin/users/{team.facilitator.id}")
    assert page.status_code == 200 and 'name="supervisor_id"' in page.text
    moved = client.post(f"/admin/users/{team.facilitator.id}", data={
        "full_name": "Nama Baru", "province_code": "91", "supervisor_id": team.other_supervisor.id})
    assert moved.status_code == 303
    # The name is saved at once; the new supervisor waits for a second administrator.
    assert reload(team.facilitator).full_name == "Nama Baru"
    assert reload(team.facilitator).supervisor_id == team.supervisor.id
    assert "data-waiting" in client.get(f"/admin/users/{team.facilitator.id}").text
    scoped = client.post(f"/admin/users/{team.auditor.id}", data={
        "full_name": team.auditor.full_name, "province_code": "31", "auditor_scope_province_code": "91"})
    assert scoped.status_code == 303 and reload(team.auditor).auditor_scope_province_code is None
    confirm_all(signed_in, make.user("admin", province="31"))
    assert reload(team.facilitator).supervisor_id == team.other_supervisor.id
    assert reload(team.auditor).auditor_scope_province_code == "91"
    [renamed, moved_event, _scope] = events("user.updated")
    assert renamed.after["full_name"] == "Nama Baru" and renamed.after["supervisor_id"] == team.supervisor.id
    assert moved_event.before["supervisor_id"] == team.supervisor.id
    assert moved_event.after["supervisor_id"] == team.other_supervisor.id


def test_bad_details_are_named_and_nothing_changes(signed_in, team):
    client = signed_in(team.admin)
    refused = client.post(f"/admin/users/{team.facilitator.id}", data={
        "full_name": "X", "province_code": "91", "supervisor_id": team.facilitator2.id})
    assert refused.status_code == 422 and 'id="f-supervisor-id-error-1"' in refused.text
    no_province = client.post(f"/admin/users/{team.facilitator.id}", data={"full_name": "X", "province_code": ""})
    assert no_province.status_code == 422 and 'id="f-province-code-error-1"' in no_province.text
    beyond = client.post(f"/admin/users/{team.facilitator.id}", data={
        "full_name": "X", "province_code": "91", "supervisor_id": str(2**31)})
    assert beyond.status_code == 422 and 'id="f-supervisor-id-error-1"' in beyond.text
    assert reload(team.facilitator).full_name != "X"
    assert reload(team.facilitator).supervisor_id == team.supervisor.id
    assert events("user.updated") == []


def test_admin_edits_a_supervisors_team(signed_in, team, make):
    spare = make.user("facilitator", province="91")
    client = signed_in(team.admin)
    page = client.get(f"/admin/users/{team.supervisor.id}/team")
    assert page.status_code == 200 and spare.full_name in page.text
    assert team.other_facilitator.full_name not in page.text  # another province, another team
    saved = client.post(f"/admin/users/{team.supervisor.id}/team",
                        data={"facilitator_ids": [team.facilitator.id, spare.id]})
    assert saved.status_code == 303
    # Taken out at once; put in only once a second administrator confirms.
    assert reload(team.facilitator2).supervisor_id is None
    assert reload(spare).supervisor_id is None
    confirm_all(signed_in, make.user("admin", province="31"))
    assert reload(spare).supervisor_id == team.supervisor.id
    assert len(events("user.team_changed")) == 2
    refused = client.post(f"/admin/users/{team.supervisor.id}/team",
                          data={"facilitator_ids": [team.auditor.id]})
    assert refused.status_code == 422 and "field-error" in refused.text
    assert reload(team.auditor).supervisor_id is None
    beyond = client.post(f"/admin/users/{team.supervisor.id}/team", data={"facilitator_ids": [str(2**31)]})
    assert beyond.status_code == 422 and "field-error" in beyond.text
    assert reload(spare).supervisor_id == team.supervisor.id
    assert client.get(f"/admin/users/{team.facilitator.id}/team").status_code == 404


def test_facilitator_with_open_cases_cannot_be_deactivated(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    client = signed_in(team.admin)
    refused = client.post(f"/admin/users/{team.facilitator.id}/active", data={"active": "0"})
    assert refused.status_code == 422
    assert 'id="f-active-error-1"' in refused.text
    assert reload(team.facilitator).active is True
    from caseflow.services import cases as case_services

    case_services.reassign_case(Actor(user=team.supervisor), case.id,
                                {"facilitator_id": team.facilitator2.id, "reason": "Pindah tugas"})
    done = client.post(f"/admin/users/{team.facilitator.id}/active", data={"active": "0"})
    assert done.status_code == 303 and reload(team.facilitator).active is False
    again = client.post(f"/admin/users/{team.facilitator.id}/active", data={"active": "1"})
    assert again.status_code == 303 and reload(team.facilitator).active is True
    assert [e.action for e in events("user.deactivated")] == ["user.deactivated"]


def test_admin_cannot_deactivate_themselves(signed_in, team):
    refused = signed_in(team.admin).post(f"/admin/users/{team.admin.id}/active", data={"active": "0"})
    assert refused.status_code == 422 and reload(team.admin).active is True


def test_account_services_are_for_administrators_only(app, team):
    with pytest.raises(NotAllowed):
        user_services.update_user(Actor(user=team.supervisor), team.facilitator.id,
                                  {"full_name": "X", "province_code": "91"})
    with pytest.raises(NotAllowed):
        user_services.set_team(Actor(user=team.supervisor), team.supervisor.id, [])
    with pytest.raises(ValidationError) as refused:
        user_services.update_user(Actor(user=team.admin), team.supervisor.id,
                                  {"full_name": "X", "province_code": "91", "auditor_scope_province_code": "53"})
    assert "auditor_scope_province_code" in refused.value.fields
    with pytest.raises(ValidationError) as refused:  # beyond INTEGER: PostgreSQL could not look it up
        user_services.set_team(Actor(user=team.admin), team.supervisor.id, [team.facilitator.id, 2**31])
    assert "facilitator_ids" in refused.value.fields
