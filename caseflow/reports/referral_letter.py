"""The referral letter (surat rujukan): what the client takes to the service they are
referred to. Always in Indonesian, whoever prints it: it is read by the receiving
institution. It names the case and the facilitator (name, NIP PPPK, province) so the
service knows whom to answer, and carries the case's audit seal like the other documents.

Built on the case documents' writer (`documents._Writer`), next to the case file and the
termination report.
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from ..i18n import formatting as fmt
from ..i18n.referral_labels import DESTINATION_NAMES
from ..models import Referral
from .documents import _nip, _place, _Writer
from .letterhead import current_letterhead

LETTER_LOCALE = "id"


def referral_letter_pdf(referral: Referral, *, zone: str) -> bytes:
    """The letter for `referral` (the caller may see its case)."""
    with force_locale(LETTER_LOCALE):
        return _letter(referral, zone)


def _day(value) -> str:
    return fmt.long_date(value, LETTER_LOCALE) if value else "—"


def _letter(referral: Referral, zone: str) -> bytes:
    case = referral.case
    number = letter_number(referral)
    client = case.client
    facilitator = case.facilitator
    head = current_letterhead()
    w = _Writer(zone, LETTER_LOCALE, case, head)
    w.numbered_title(_("Referral letter"), number, None)
    w.pairs([
        (_("Number"), number),
        (_("Date"), _day(referral.sent_on)),
    ])
    w.h2(_("To"))
    w.pairs([
        (_("Institution"), referral.institution),
        (_("Kind of service"), str(DESTINATION_NAMES.get(referral.destination_type, referral.destination_type))),
    ])
    w.p(_("We refer the person named below to your service, and ask you to let the facilitator "
          "named in this letter know how the referral was answered."))
    w.h2(_("The client"))
    anonymised = client.anonymised_at is not None
    w.pairs([
        (_("Name"), _("(anonymised)") if anonymised else client.full_name),
        (_("NIK"), "—" if anonymised else (client.nik or "—")),
        (_("Birth date"), _day(client.birth_date)),
        (_("Address"), "—" if anonymised else (client.address or "—")),
        (_("Case number"), case.number),
    ])
    w.h2(_("The referral"))
    w.pairs([
        (_("Reason for the referral"), referral.reason),
        (_("Goal it serves"), referral.goal.description if referral.goal else "—"),
        (_("Answer requested by"), _day(referral.expected_answer_on)),
    ])
    w.h2(_("Facilitator"))
    w.pairs([
        (_("Name"), facilitator.full_name),
        (_("NIP PPPK"), facilitator.nip_pppk or "—"),
        (_("Province"), facilitator.province.name if facilitator.province else "—"),
        (_("Role"), _("Social rehabilitation facilitator (pendamping rehabilitasi sosial)")),
    ])
    w.p(_("Please send your answer (accepted, service given or refused, with the date) to the facilitator "
          "above, quoting the number of this letter."))
    w.signatures(fmt.place_and_date(_place(head, case), referral.sent_on, LETTER_LOCALE), [
        ("", "", None), ("", "", None),
        (_("Facilitator"), facilitator.full_name, _nip(facilitator)),
    ])
    return w.build(_("Referral letter %(number)s", number=number))


def letter_number(referral: Referral) -> str:
    """The case number and the referral's own: what the service quotes when it answers."""
    return f"{referral.case.number}/R-{referral.id}"
