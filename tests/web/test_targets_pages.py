"""Work targets on the pages: the programme manager's national defaults and figures by
province, the supervisor's month end (set a facilitator's target with a reason, review the
team's progress, sign the performance report bound to its figures), and a facilitator's
own page; another team's facilitator is out of reach."""

from __future__ import annotations

import re

from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import AuditEvent, PerformanceReport, WorkTarget
from caseflow.services import agenda
from tests.support.factories import today_for


def sync() -> None:
    db.session.rollback()
    db.session.expire_all()


def month_args(user) -> dict:
    return {"period": "month", "start": today_for(user).replace(day=1).isoformat()}


def test_the_manager_sets_a_national_target_seen_by_every_facilitator(signed_in, team, make):
    make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    manager = signed_in(team.manager)
    refused = manager.post("/targets/defaults", data={"period_kind": "month", "measure": "cases_resolved",
                                                      "target": "-1"})
    assert refused.status_code == 422 and 'id="f-target-error-1"' in refused.get_data(as_text=True)
    assert manager.post("/targets/defaults", data={"period_kind": "month", "measure": "cases_resolved",
                                                   "target": "4"}).status_code == 303
    page = manager.get("/targets").get_data(as_text=True)
    assert 'data-province="91"' in page and 'data-province="all"' in page
    assert team.facilitator.full_name not in page  # aggregates only
    own = signed_in(team.facilitator).get("/targets").get_data(as_text=True)
    assert "1</span> / 4" in own and "25%" in own
    assert signed_in(team.supervisor).post("/targets/defaults", data={
        "period_kind": "month", "measure": "cases_resolved", "target": "9"}).status_code == 403
    for outsider in (team.auditor, team.admin):
        assert signed_in(outsider).get("/targets").status_code == 403


def test_the_supervisors_month_end_set_review_sign(signed_in, team, make):
    make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    supervisor = signed_in(team.supervisor)
    args = month_args(team.supervisor)
    page_url = f"/targets/facilitators/{team.facilitator.id}"
    missing_reason = supervisor.post(page_url, query_string=args, data={"measure": "cases_resolved", "target": "2"})
    assert missing_reason.status_code == 422 and 'id="f-reason-error-1"' in missing_reason.get_data(as_text=True)
    assert supervisor.post(page_url, query_string=args, data={
        "measure": "cases_resolved", "target": "2", "reason": "Wilayah pegunungan"}).status_code == 303
    team_page = supervisor.get("/targets", query_string=args | {"sort": "cases_resolved"}).get_data(as_text=True)
    assert team.facilitator.full_name in team_page and "1</span> / 2" in team_page and "50%" in team_page
    report = supervisor.get(page_url, query_string=args).get_data(as_text=True)
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', report).group(1)
    # Signed as shown: a digest of other figures signs nothing.
    stale = supervisor.post(f"{page_url}/sign", query_string=args, data={"digest": "0" * 64})
    assert stale.status_code == 303
    sync()
    assert db.session.execute(select(PerformanceReport)).first() is None
    assert supervisor.post(f"{page_url}/sign", query_string=args, data={"digest": digest}).status_code == 303
    sync()
    signed = db.session.execute(select(PerformanceReport)).scalar_one()
    assert signed.digest == digest and signed.figures["measures"]["cases_resolved"] == {"actual": 1, "target": 2}
    assert "Ditandatangani" in supervisor.get(page_url, query_string=args).get_data(as_text=True)
    supervisor.post(f"{page_url}/sign", query_string=args, data={"digest": digest})  # once per period
    sync()
    assert len(db.session.execute(select(PerformanceReport)).all()) == 1
    actions = db.session.execute(select(AuditEvent.action).where(
        AuditEvent.chain == f"user:{team.facilitator.id}", AuditEvent.action.in_(
            ("target.set", "performance_report.signed"))).order_by(AuditEvent.seq)).scalars().all()
    assert actions == ["target.set", "performance_report.signed"]
    csv_file = signed_in(team.facilitator).get(f"{page_url}/report.csv", query_string=args)
    assert csv_file.status_code == 200 and team.supervisor.full_name in csv_file.get_data(as_text=True)


def test_another_teams_facilitator_is_out_of_reach(signed_in, team):
    other = f"/targets/facilitators/{team.other_facilitator.id}"
    supervisor = signed_in(team.supervisor)
    assert supervisor.get(other).status_code == 404
    assert supervisor.post(other, data={"measure": "cases_resolved", "target": "2", "reason": "x"}).status_code == 404
    assert supervisor.post(f"{other}/sign", data={"digest": "0" * 64}).status_code == 404
    facilitator = signed_in(team.facilitator)
    assert facilitator.get(f"/targets/facilitators/{team.facilitator2.id}").status_code == 404
    assert facilitator.get(f"/targets/facilitators/{team.facilitator.id}").status_code == 200
    assert facilitator.post(f"/targets/facilitators/{team.facilitator.id}/sign",
                            data={"digest": "0" * 64}).status_code == 403
    sync()
    assert db.session.execute(select(WorkTarget)).first() is None


def test_the_team_table_sorts_by_a_measure_with_the_weakest_first(signed_in, team, make):
    case = make.case(team.facilitator2, to="intervention")
    agenda.plan_visit(agenda.Actor(user=team.facilitator2), case.id, {
        "step_type": "home_visit", "planned_at": f"{today_for(team.facilitator2).isoformat()}T23:50"})
    signed_in(team.manager).post("/targets/defaults", data={"period_kind": "month", "measure": "visits_made",
                                                           "target": "1"})
    page = signed_in(team.supervisor).get("/targets", query_string={"sort": "visits_made"}).get_data(as_text=True)
    rows = re.findall(r'<tr data-facilitator="(\d+)"', page)
    assert rows == [str(team.facilitator.id), str(team.facilitator2.id)]  # 0 % and 0 % → by name
