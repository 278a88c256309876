"""Separation of duties for accounts: an administrator cannot act through a privileged
account they make or widen alone. A new supervisor, auditor or administrator, a
reactivation, a new supervisor or auditor scope and facilitators added to a team wait for a
second administrator (or the server's command line); auditors see every such change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.errors import NotAllowed
from caseflow.extensions import db
from caseflow.models import AccountChange, AuditEvent, User
from caseflow.services import account_changes, users
from caseflow.services.context import Actor
from tests.support.clients import IsolatedClient
from tests.support.factories import PASSWORD, today_for

NEW_AUDITOR = {"username": "auditor.baru", "full_name": "Auditor Baru", "role": "auditor",
               "password": "Sungai-Baliem-2026!", "province_code": "31", "locale": "id",
               "auditor_scope_province_code": ""}


def fresh():
    db.session.rollback()
    db.session.expire_all()


def by_username(username: str) -> User:
    fresh()
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def changes() -> list[AccountChange]:
    fresh()
    return list(db.session.execute(select(AccountChange).order_by(AccountChange.id)).scalars())


def actions(user_id: int) -> list[str]:
    fresh()
    return [e.action for e in db.session.execute(
        select(AuditEvent).where(AuditEvent.chain == f"user:{user_id}").order_by(AuditEvent.seq)).scalars()]


def sign_in(app, username: str, password: str = PASSWORD):
    app.test_client_class = IsolatedClient
    client = app.test_client()
    return client, client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def second_admin(make):
    return make.user("admin", province="31", username="adm2")


def test_an_auditor_an_admin_creates_is_unusable_until_a_second_admin_confirms(app, signed_in, team, second_admin):
    admin = signed_in(team.admin)
    created = admin.post("/admin/users/new", data=NEW_AUDITOR, follow_redirects=True)
    assert created.status_code == 200 and "administrator kedua" in created.text
    auditor = by_username("auditor.baru")
    assert auditor.active is False
    _, refused = sign_in(app, "auditor.baru", NEW_AUDITOR["password"])
    assert refused.status_code == 401  # the admin who knows its password cannot read anything through it

    [change] = [c for c in changes() if c.status == "pending"]
    assert change.kind == "create" and change.requested_by_id == team.admin.id
    waiting = admin.get("/admin/changes").text
    assert "Auditor Baru" in waiting and f"/admin/changes/{change.id}/confirm" not in waiting
    own = admin.post(f"/admin/changes/{change.id}/confirm", follow_redirects=True)
    assert "administrator lain" in own.text
    assert by_username("auditor.baru").active is False
    with pytest.raises(NotAllowed):
        account_changes.confirm_change(Actor(user=team.admin), change.id)

    confirmed = signed_in(second_admin).post(f"/admin/changes/{change.id}/confirm")
    assert confirmed.status_code == 303
    assert by_username("auditor.baru").active is True
    _, accepted = sign_in(app, "auditor.baru", NEW_AUDITOR["password"])
    assert accepted.status_code == 302
    assert [a for a in actions(auditor.id) if a.startswith(("user.", "account_change."))] == [
        "user.created", "account_change.requested", "user.activated", "account_change.confirmed"]
    [decided] = [c for c in changes() if c.id == change.id]
    assert decided.status == "confirmed" and decided.decided_by_id == second_admin.id


def test_facilitators_join_a_supervisors_team_only_once_a_second_admin_confirms(signed_in, team, make, second_admin):
    newcomer = make.user("supervisor", province="91", username="sup.baru")  # made on the command line
    case = make.case(team.facilitator, to="assessment")
    asked = signed_in(team.admin).post(f"/admin/users/{newcomer.id}/team",
                                       data={"facilitator_ids": [team.facilitator.id]}, follow_redirects=True)
    assert asked.status_code == 200 and "data-waiting" in asked.text
    assert by_username("fac").supervisor_id == team.supervisor.id
    supervisor = signed_in(newcomer)
    assert supervisor.get(f"/cases/{case.id}").status_code == 404

    [change] = [c for c in changes() if c.status == "pending"]
    assert signed_in(second_admin).post(f"/admin/changes/{change.id}/confirm").status_code == 303
    assert by_username("fac").supervisor_id == newcomer.id
    assert signed_in(newcomer).get(f"/cases/{case.id}").status_code == 200


def test_an_admin_names_an_acting_supervisor_only_with_a_second_admin(signed_in, team, make, second_admin):
    from datetime import timedelta

    from caseflow.models.sign_off_policy import Delegation

    newcomer = make.user("supervisor", province="91", username="sup.pengganti")
    case = make.case(team.facilitator, to="assessment")
    today = today_for(team.facilitator)
    asked = signed_in(team.admin).post("/delegations", data={
        "supervisor_id": team.supervisor.id, "acting_id": newcomer.id, "reason": "Cuti tahunan",
        "starts_on": (today - timedelta(days=1)).isoformat(), "ends_on": (today + timedelta(days=7)).isoformat()})
    assert asked.status_code == 303
    fresh()
    assert db.session.execute(select(Delegation)).first() is None
    assert signed_in(newcomer).get(f"/cases/{case.id}").status_code == 404
    [change] = [c for c in changes() if c.status == "pending"]
    assert change.kind == "delegation" and change.target_user_id == newcomer.id
    assert "Cuti tahunan" in signed_in(second_admin).get("/admin/changes").text
    assert signed_in(second_admin).post(f"/admin/changes/{change.id}/confirm").status_code == 303
    fresh()
    [delegation] = db.session.execute(select(Delegation)).scalars().all()
    assert delegation.acting_id == newcomer.id and delegation.created_by_id == team.admin.id
    assert signed_in(newcomer).get(f"/cases/{case.id}").status_code == 200


def test_widening_an_auditors_scope_or_reactivating_a_supervisor_waits_for_a_second_admin(
        signed_in, team, make, second_admin):
    case = make.case(team.facilitator, to="assessment")  # province 91
    admin = signed_in(team.admin)
    assert admin.post(f"/admin/users/{team.province_auditor.id}", data={
        "full_name": team.province_auditor.full_name, "province_code": "53",
        "auditor_scope_province_code": ""}).status_code == 303
    assert by_username("aud.ntt").auditor_scope_province_code == "53"
    assert signed_in(team.province_auditor).get(f"/cases/{case.id}").status_code == 404

    assert admin.post(f"/admin/users/{team.other_supervisor.id}/active", data={"active": "0"}).status_code == 303
    again = admin.post(f"/admin/users/{team.other_supervisor.id}/active", data={"active": "1"})
    assert again.status_code == 303 and by_username("sup.ntt").active is False
    twice = admin.post(f"/admin/users/{team.other_supervisor.id}/active", data={"active": "1"})
    assert twice.status_code == 422 and 'id="f-active-error-1"' in twice.text

    second = signed_in(second_admin)
    for change in [c for c in changes() if c.status == "pending"]:
        assert second.post(f"/admin/changes/{change.id}/confirm").status_code == 303
    assert by_username("aud.ntt").auditor_scope_province_code is None
    assert signed_in(team.province_auditor).get(f"/cases/{case.id}").status_code == 200
    assert by_username("sup.ntt").active is True


def test_facilitator_accounts_and_deactivations_need_one_admin(signed_in, team):
    admin = signed_in(team.admin)
    assert admin.post("/admin/users/new", data={
        "username": "pendamping.baru", "full_name": "Pendamping Baru", "role": "facilitator",
        "password": "Sungai-Baliem-2026!", "province_code": "91", "supervisor_id": team.supervisor.id,
    }).status_code == 303
    assert by_username("pendamping.baru").active is True
    assert admin.post(f"/admin/users/{team.auditor.id}/active", data={"active": "0"}).status_code == 303
    assert by_username("aud").active is False
    assert [c for c in changes() if c.status == "pending"] == []


def test_a_rejected_change_never_takes_effect_and_auditors_see_every_change(signed_in, team, second_admin):
    admin = signed_in(team.admin)
    admin.post("/admin/users/new", data={**NEW_AUDITOR, "username": "ditolak", "full_name": "Akun Ditolak"})
    admin.post("/admin/users/new", data=NEW_AUDITOR)
    rejected, confirmed = [c for c in changes() if c.status == "pending"]
    second = signed_in(second_admin)
    no_reason = second.post(f"/admin/changes/{rejected.id}/reject", data={"reason": " "})
    assert no_reason.status_code == 422 and 'id="f-reason-error-1"' in no_reason.text
    assert second.post(f"/admin/changes/{rejected.id}/reject",
                       data={"reason": "Tidak ada surat tugas"}).status_code == 303
    assert second.post(f"/admin/changes/{confirmed.id}/confirm").status_code == 303
    assert by_username("ditolak").active is False
    assert second.post(f"/admin/changes/{rejected.id}/confirm", follow_redirects=True).status_code == 200
    assert by_username("ditolak").active is False  # a decided change cannot be confirmed later

    page = signed_in(team.auditor).get("/audit/account-changes")
    assert page.status_code == 200
    html = page.text
    assert f'data-change="{rejected.id}" data-status="rejected"' in html and "Tidak ada surat tugas" in html
    assert f'data-change="{confirmed.id}" data-status="confirmed"' in html
    assert html.count(f"{team.admin.full_name} ({team.admin.username})") == 2  # asked both
    assert f"{second_admin.full_name} ({second_admin.username})" in html  # decided both, and was made
    assert "baris perintah server" in html  # the team's supervisors, auditors and admins: command line
    assert 'data-status="applied"' in html
    assert signed_in(team.admin).get("/audit/account-changes").status_code == 403


def test_the_servers_command_line_creates_lists_and_confirms(app, signed_in, team):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "--username", "koordinator", "--full-name", "Koordinator",
                               "--role", "supervisor", "--password", "Sungai-Baliem-2026!", "--province", "91"])
    assert made.exit_code == 0, made.output
    assert by_username("koordinator").active is True
    asked = signed_in(team.admin).post(f"/admin/users/{team.supervisor.id}", data={
        "full_name": team.supervisor.full_name, "province_code": "91",
        "supervisor_id": by_username("koordinator").id})
    assert asked.status_code == 303, asked.text
    fresh()  # the command runs in this test's context: no read snapshot from before the request
    listed = runner.invoke(args=["users", "changes"])
    assert listed.exit_code == 0 and "details" in listed.output and "1 change(s) waiting" in listed.output
    [change] = [c for c in changes() if c.status == "pending"]
    assert runner.invoke(args=["users", "confirm", str(change.id)]).exit_code == 0
    assert by_username("sup").supervisor_id == by_username("koordinator").id
    again = runner.invoke(args=["users", "confirm", str(change.id)])
    assert again.exit_code == 1 and "already decided" in again.output
    fresh()
    decided = db.session.get(AccountChange, change.id)
    assert decided.decided_by_id is None and decided.decided_via == "cli"
    created = [c for c in changes() if c.target_user_id == by_username("koordinator").id]
    assert [(c.kind, c.status, c.requested_via) for c in created] == [("create", "applied", "cli")]


def test_account_changes_are_decided_by_administrators_only(team, make):
    users.create_user(Actor(user=team.admin), {**NEW_AUDITOR, "auditor_scope_province_code": None})
    [change] = [c for c in changes() if c.status == "pending"]
    for someone in (team.supervisor, team.auditor):
        with pytest.raises(NotAllowed):
            account_changes.confirm_change(Actor(user=someone), change.id)
        with pytest.raises(NotAllowed):
            account_changes.reject_change(Actor(user=someone), change.id, "no")
