"""Display names of the codes of referrals and aftercare, in the reader's language.
Templates get them as `followup_labels`."""

from __future__ import annotations

from ..i18n import _l
from ..models.referral import DESTINATION_TYPES, STATUSES

DESTINATION_NAMES = {
    "dukcapil": _l("Dukcapil (identity documents)"),
    "health": _l("Puskesmas or hospital"),
    "bpjs": _l("BPJS (health insurance)"),
    "school": _l("School"),
    "lks": _l("LKS / panti (social welfare institution)"),
    "ppa": _l("UPTD PPA (protection of women and children)"),
    "police": _l("Police"),
    "dinsos": _l("Dinas Sosial"),
    "other": _l("Other service"),
}
REFERRAL_STATUS_NAMES = {
    "sent": _l("Sent, waiting for an answer"),
    "accepted": _l("Accepted"),
    "service_given": _l("Service given"),
    "refused": _l("Refused"),
    "no_answer": _l("No answer"),
}
CONTACT_STATUS_NAMES = {
    "made": _l("Made"),
    "missed": _l("Missed"),
    "open": _l("Due now"),
    "planned": _l("Planned"),
    "cancelled": _l("Not needed (case reopened)"),
}
AFTERCARE_STATE_NAMES = {
    "running": _l("In aftercare"),
    "completed": _l("Aftercare completed"),
    "relapsed": _l("Relapsed: case reopened"),
}


def _name(table: dict, code: str | None) -> str:
    return "" if code is None else str(table.get(code, code))


class FollowupLabels:
    """What templates call: `followup_labels.destination(r.destination_type)`…"""

    @staticmethod
    def destination(code: str | None) -> str:
        return _name(DESTINATION_NAMES, code)

    @staticmethod
    def referral_status(code: str | None) -> str:
        return _name(REFERRAL_STATUS_NAMES, code)

    @staticmethod
    def contact_status(code: str | None) -> str:
        return _name(CONTACT_STATUS_NAMES, code)

    @staticmethod
    def aftercare_state(code: str | None) -> str:
        return _name(AFTERCARE_STATE_NAMES, code)

    @staticmethod
    def destination_options() -> list[tuple[str, str]]:
        return [(code, str(DESTINATION_NAMES[code])) for code in DESTINATION_TYPES]

    @staticmethod
    def referral_status_options() -> list[tuple[str, str]]:
        return [(code, str(REFERRAL_STATUS_NAMES[code])) for code in STATUSES]


followup_labels = FollowupLabels()
