"""Referrals and aftercare under the personal-data rules: in the data-subject export,
scrubbed by retention (the figures' codes and dates stay), and a client still followed in
aftercare is not anonymised."""

from __future__ import annotations

from datetime import timedelta

from caseflow.database import simulated_time, utcnow
from caseflow.extensions import db
from caseflow.models import Aftercare, Referral
from caseflow.services import cases, referrals
from caseflow.services.context import Actor
from caseflow.services.privacy import anonymise_closed_cases, export_client_data
from tests.support.factories import rate_all


def resolved_with_a_referral(make, team, days_ago: int):
    me = Actor(user=team.facilitator)
    with simulated_time(utcnow() - timedelta(days=days_ago)):
        case = make.case(team.facilitator, to="intervention")
        referrals.send_referral(me, case.id, {"destination_type": "health", "institution": "Puskesmas",
                                              "reason": "Status HIV klien perlu diperiksa"})
        cases.fire_trigger(me, case.id, "start_evaluation")
        cases.save_evaluation(me, case.id, rate_all(case, "achieved"))
        cases.save_termination_request(me, case.id, {"outcome": "resolved", "aftercare_plan": "Kunjungan di rumah"})
        cases.fire_trigger(me, case.id, "request_termination")
        db.session.refresh(case)
        cases.decide_sign_off(Actor(user=team.supervisor), case.pending_sign_off.id, {"decision": "approve"})
    return case


def test_the_export_holds_referrals_and_aftercare(make, team):
    case = resolved_with_a_referral(make, team, days_ago=10)
    exported = export_client_data(Actor(user=team.supervisor), case.client_id)["cases"][0]
    assert exported["referrals"][0]["reason"] == "Status HIV klien perlu diperiksa"
    assert exported["aftercare"][0]["plan"] == "Kunjungan di rumah" and exported["aftercare"][0]["outcome"] is None


def test_retention_scrubs_referral_and_aftercare_texts_but_keeps_their_codes(make, team):
    case = resolved_with_a_referral(make, team, days_ago=400)
    report = anonymise_closed_cases(Actor.cli(), older_than_days=365)
    assert report.clients == [case.client_id]
    db.session.rollback()
    referral = db.session.execute(db.select(Referral).where(Referral.case_id == case.id)).scalar_one()
    assert referral.reason == "" and referral.feedback == ""
    assert referral.destination_type == "health" and referral.sent_on is not None
    assert db.session.execute(db.select(Aftercare).where(Aftercare.case_id == case.id)).scalar_one().plan == ""


def test_a_client_still_in_aftercare_is_kept(make, team):
    case = resolved_with_a_referral(make, team, days_ago=40)
    report = anonymise_closed_cases(Actor.cli(), older_than_days=30)
    assert report.clients == [] and report.skipped_clients == [case.client_id]


