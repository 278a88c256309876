"""The tables of the aftercare and referral figures, laid out like the others
(`tables.Table`): shown on the monitoring page and written to its exports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..i18n import _l
from ..i18n.referral_labels import DESTINATION_NAMES, REFERRAL_STATUS_NAMES
from ..models import Referral, User
from .tables import Table, _percent, personal_columns

# The rows of the aftercare table: (label, figure, key) — the figure and key its number
# links to (the cases behind it).
AFTERCARE_ROWS = (
    (_l("In aftercare now"), "in_aftercare", None),
    (_l("Aftercare ended in the period"), "aftercare_ended", None),
    (_l("Followed up as planned (every planned contact made)"), "aftercare_ended", "as_planned"),
    (_l("Followed up, some planned contacts missed"), "aftercare_ended", "not_as_planned"),
    (_l("Relapsed (reopened during aftercare)"), "aftercare_ended", "relapsed"),
)
SUMMARY_KEYS = {None: "ended", "as_planned": "as_planned", "not_as_planned": "not_as_planned",
                "relapsed": "relapsed"}

# The columns of the referral table after the kind of service: the figure each counts.
REFERRAL_COLUMNS = (
    (_l("Sent"), "referrals_sent"),
    (_l("Answered"), "referrals_answered"),
    (None, "referrals_answered_within"),  # its header names the days
    (_l("Service given"), "referrals_service_given"),
    (_l("Refused"), "referrals_refused"),
    (_l("No answer"), "referrals_no_answer"),
    (_l("Overdue now"), "referrals_overdue"),
)


def aftercare_table(summary: dict[str, Any]) -> Table:
    rows = []
    for label, figure, key in AFTERCARE_ROWS:
        value = summary["in_aftercare"] if figure == "in_aftercare" else summary[SUMMARY_KEYS[key]]
        rows.append([label, value])
    ended = summary["ended"]
    rows.append([_l("Share of ended aftercare followed up as planned"),
                 _percent(summary["as_planned"] / ended if ended else None)])
    rows.append([_l("Share of ended aftercare that relapsed"),
                 _percent(summary["relapsed"] / ended if ended else None)])
    return Table("aftercare", _l("Aftercare (bimbingan lanjut)"), [_l("Figure"), _l("Cases")], rows)


def referral_table(summary: dict[str, Any]) -> Table:
    days = summary["within_days"]
    headers: list[Any] = [_l("Kind of service")]
    for label, _figure in REFERRAL_COLUMNS:
        headers.append(label if label is not None else _l("Answered within %(days)s days", days=days))
    headers.append(_l("Share answered within %(days)s days", days=days))
    table = Table("referrals", _l("Referrals per kind of service"), headers)
    for destination, row in referral_rows(summary):
        name = _l("All referrals") if destination is None else DESTINATION_NAMES.get(destination, destination)
        table.rows.append([name, *(row[figure] for _label, figure in REFERRAL_COLUMNS),
                           _percent(row["answered_within_share"])])
    return table


def referral_rows(summary: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(kind of service, figures) per row of the table, the total (None) last."""
    return [*summary["by_destination"].items(), (None, summary["total"])]


def referral_list_table(referrals: Iterable[Referral], user: User, title: Any, *, lazy: bool = False) -> Table:
    """The referrals behind a figure, with the columns `user`'s role may see (the client's
    name only for facilitators and supervisors, like the case lists)."""
    with_name, _with_nik = personal_columns(user, "referral")
    headers: list[Any] = [_l("Case number"), _l("Kind of service"), _l("Institution"), _l("Sent"),
                          _l("Answer expected"), _l("Status"), _l("Answer received on"), _l("Facilitator")]
    if with_name:
        headers.append(_l("Client"))

    def rows() -> Iterator[list[Any]]:
        for referral in referrals:
            case = referral.case
            row = [case.number, DESTINATION_NAMES.get(referral.destination_type, referral.destination_type),
                   referral.institution, referral.sent_on, referral.expected_answer_on,
                   REFERRAL_STATUS_NAMES.get(referral.status, referral.status), referral.answered_on or "",
                   case.facilitator.full_name]
            if with_name:
                row.append(case.client.full_name if not case.client.anonymised_at else "")
            yield row

    return Table("referrals", title, headers, rows() if lazy else list(rows()))
