"""No client is lost: the client list (own and the team's), search by name and by full
NIK without becoming an oracle, possible matches when registering, and a new case for a
returning client linked to the earlier ones."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseflow.errors import ValidationError
from caseflow.extensions import db
from caseflow.models import AuditEvent, Client
from caseflow.services import access, cases, clients
from caseflow.services.context import Actor


def act(user) -> Actor:
    return Actor(user=user)


def listed(user, **kwargs) -> list[int]:
    return [c.id for c in db.session.execute(clients.client_list(user, **kwargs)).scalars()]


def test_a_client_registered_without_a_case_is_in_the_list(team, make):
    lost = make.client(team.facilitator, full_name="Yakobus Hilang")
    with_case = make.case(team.facilitator).client
    assert listed(team.facilitator) == [with_case.id, lost.id]
    assert listed(team.facilitator, without_case=True) == [lost.id]


def test_the_list_follows_the_client_access_rule(team, make):
    mine = make.client(team.facilitator)
    teammates = make.client(team.facilitator2)
    reassigned_to_me = make.case(team.facilitator2)
    cases.reassign_case(act(team.supervisor), reassigned_to_me.id,
                        {"facilitator_id": team.facilitator.id, "reason": "Cuti"})
    elsewhere = make.client(team.other_facilitator, province="53")
    other_team = make.user("facilitator", province="91", supervisor=make.user("supervisor", province="91"))
    next_door = make.client(other_team)
    assert set(listed(team.facilitator)) == {mine.id, teammates.id, reassigned_to_me.client_id}
    assert next_door.id not in listed(team.supervisor)
    assert set(listed(team.supervisor)) == {mine.id, teammates.id, reassigned_to_me.client_id}
    assert listed(team.other_supervisor) == [elsewhere.id]
    for person in (team.auditor, team.manager, team.admin):
        assert listed(person) == []
    # One rule: everything listed is what access.can_see_client allows.
    for person in (team.facilitator, team.supervisor):
        for client_id in listed(person):
            assert access.can_see_client(person, db.session.get(Client, client_id))


def test_search_by_part_of_a_name_and_by_full_nik(team, make):
    siti = make.client(team.facilitator, full_name="Siti Wenda")
    make.client(team.facilitator, full_name="Markus Tabuni")
    assert listed(team.facilitator, search="wEnD") == [siti.id]
    assert listed(team.facilitator, search=siti.nik) == [siti.id]
    assert listed(team.facilitator, search=siti.nik[:10]) == []  # part of a NIK finds nothing
    assert listed(team.facilitator, search="50%_") == []


def test_a_nik_out_of_reach_finds_what_an_unknown_nik_finds_and_leaves_no_trace(team, make):
    other_team = make.user("facilitator", province="91", supervisor=make.user("supervisor", province="91"))
    next_door = make.client(other_team)
    elsewhere = make.client(team.other_facilitator, province="53")
    events_before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    for nik in (next_door.nik, elsewhere.nik, "9101011508859999"):
        assert listed(team.facilitator, search=nik) == []
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events_before


def test_possible_matches_by_nik_or_name_and_birth_date_within_reach(team, make):
    mine = make.client(team.facilitator, full_name="Agnes Kogoya", nik=None)
    teammates = make.client(team.facilitator2, full_name="Agnes Kogoya", nik=None,
                            birth_date=mine.birth_date.isoformat())
    found = clients.possible_matches(team.facilitator, full_name="  agnes   KOGOYA ", birth_date=mine.birth_date,
                                     nik=None)
    assert {c.id for c in found} == {mine.id, teammates.id}  # a team-mate's registration too
    assert {c.id for c in clients.possible_matches(team.supervisor, full_name="Agnes Kogoya",
                                                   birth_date=mine.birth_date, nik=None)} == {mine.id, teammates.id}
    assert clients.possible_matches(team.facilitator, full_name="Agnes Kogoya", birth_date=None, nik=None) == []


def test_a_returning_client_gets_a_new_case_linked_to_the_earlier_one(team, make):
    first = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    again = cases.open_case(act(team.facilitator), {"client_id": first.client_id, "ppks_category_code": "P04"})
    opened = db.session.execute(select(AuditEvent).where(
        AuditEvent.case_id == again.id, AuditEvent.action == "case.opened")).scalar_one()
    assert opened.context["earlier_case_ids"] == [first.id]
    assert [c.id for c in clients.cases_of(team.facilitator, again.client)] == [again.id, first.id]
    assert clients.open_case_of(again.client).id == again.id


def test_a_client_has_one_open_case_at_a_time(team, make):
    open_one = make.case(team.facilitator)
    with pytest.raises(ValidationError) as refused:
        cases.open_case(act(team.facilitator), {"client_id": open_one.client_id, "ppks_category_code": "P02"})
    assert open_one.number in str(refused.value.fields["client_id"][0])
    # The supervisor's team-mate holds it: the supervisor may see the number, a
    # facilitator who registered the client but lost the case to a reassignment may not.
    cases.reassign_case(act(team.supervisor), open_one.id, {"facilitator_id": team.facilitator2.id,
                                                            "reason": "Cuti"})
    with pytest.raises(ValidationError) as refused:
        cases.open_case(act(team.facilitator), {"client_id": open_one.client_id, "ppks_category_code": "P02"})
    assert open_one.number not in str(refused.value.fields["client_id"][0])
