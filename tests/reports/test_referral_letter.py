"""The referral letter is in Indonesian whoever prints it, and names the case and the
facilitator the service must answer."""

from __future__ import annotations

from flask_babel import force_locale

from caseflow.reports import referral_letter
from caseflow.services import referrals
from caseflow.services.context import Actor


class Recorder:
    """Stands in for the PDF writer: keeps every text the letter writes."""

    texts: list[str] = []

    def __init__(self, zone, *args, **kwargs):
        Recorder.texts = []

    def numbered_title(self, title, number, legal_basis):
        self._add(title, number)

    def signatures(self, place_and_date, blocks):
        self._add(place_and_date, *(text for block in blocks for text in block if text))

    def _add(self, *values):
        Recorder.texts.extend(str(v) for v in values)

    def title(self, text):
        self._add(text)

    def h2(self, text):
        self._add(text)

    def p(self, text, style="body"):
        self._add(text)

    def pairs(self, rows):
        for key, value in rows:
            self._add(key, value)

    def build(self, title):
        self._add(title)
        return b"%PDF-recorded"


def test_the_letter_is_indonesian_with_the_case_and_the_facilitator(app, team, make, monkeypatch):
    facilitator = make.user("facilitator", supervisor=team.supervisor, nip_pppk="199001012023211009")
    case = make.case(facilitator, to="intervention")
    referral = referrals.send_referral(Actor(user=facilitator), case.id, {
        "destination_type": "bpjs", "institution": "BPJS Kesehatan Wamena", "reason": "Kartu KIS",
        "goal_id": case.plan.goals[0].id})
    monkeypatch.setattr(referral_letter, "_Writer", Recorder)
    with app.test_request_context("/"), force_locale("en"):
        assert referral_letter.referral_letter_pdf(referral, zone="Asia/Jayapura") == b"%PDF-recorded"
    texts = Recorder.texts
    assert "Surat rujukan" in texts and "Kepada Yth." in texts and "Referral letter" not in texts
    assert f"{case.number}/R-{referral.id}" in texts and case.number in texts
    assert facilitator.full_name in texts and "199001012023211009" in texts and "Papua" in texts
    assert "BPJS Kesehatan Wamena" in texts and "BPJS (jaminan kesehatan)" in texts
    assert case.plan.goals[0].description in texts


def test_the_letter_is_a_pdf(app, team, make):
    case = make.case(team.facilitator, to="intervention")
    referral = referrals.send_referral(Actor(user=team.facilitator), case.id, {
        "destination_type": "school", "institution": "SD Inpres Wamena", "reason": "Kembali sekolah"})
    with app.test_request_context("/"):
        body = referral_letter.referral_letter_pdf(referral, zone="Asia/Jayapura")
    assert body.startswith(b"%PDF") and len(body) > 2000
