"""Display names of the agenda's and the work targets' codes, in the reader's language.
Templates get them as `agenda_labels`; the calendar feed uses them too."""

from __future__ import annotations

from flask_babel import gettext as _

from ..i18n import _l
from .labels import Labels

KIND_NAMES = {
    "stage_deadline": _l("Stage deadline"),
    "planned_visit": _l("Planned visit"),
    "goal_target": _l("Goal target date"),
    "aftercare_contact": _l("Aftercare contact"),
    "referral_answer": _l("Referral answer due"),
    "action_point": _l("Supervision action point"),
    "sign_off": _l("Sign-off to decide"),
}
MEASURE_NAMES = {
    "cases_resolved": _l("Cases resolved"),
    "assessed_within": _l("Cases assessed within 14 days of recording"),
    "visits_made": _l("Planned visits made"),
    "referrals_answered": _l("Referral answers received"),
    "aftercare_contacts_made": _l("Aftercare contacts made"),
}
PERIOD_NAMES = {"month": _l("Month"), "quarter": _l("Quarter"), "year": _l("Year")}
VISIT_STATUS_NAMES = {"planned": _l("Planned"), "done": _l("Done"), "cancelled": _l("Cancelled"),
                      "missed": _l("Missed")}


agenda_labels = Labels(kind=KIND_NAMES, measure=MEASURE_NAMES, period=PERIOD_NAMES, visit_status=VISIT_STATUS_NAMES,
                       choices={"measure": MEASURE_NAMES, "period": PERIOD_NAMES})


def agenda_reminder_text(kind: str, data: dict) -> str:
    """A reminder of the agenda (services.agenda.send_reminders) in the reader's language."""
    what, number, day = agenda_labels.kind(data.get("item")), data.get("case_number"), data.get("day")
    if kind == "agenda.overdue":
        return _("Overdue: %(what)s, case %(number)s (due %(day)s).", what=what, number=number, day=day)
    return _("Due tomorrow: %(what)s, case %(number)s.", what=what, number=number)
