"""Monthly reports: a facilitator's (laporan bulanan pendamping) and a supervisor's team
report, as PDF and XLSX, from the same figure definitions as the dashboards (the month is
the dashboard's period, the tables are the dashboard's tables).

The PDF is a signed office document like the case documents (letterhead, numbered title,
signatures of the facilitator and the supervisor); the workbook opens with a sheet saying
what it holds, for whom, the period and when it was made, and keeps numbers, shares and
dates as typed cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from reportlab.lib.units import mm
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db
from ..i18n import formatting as fmt
from ..models import Role, User
from ..services import access
from . import figures as fg
from .dashboard import build, figures
from .documents import _nip, _Writer
from .letterhead import current_letterhead
from .tables import Table, about_table

# The tables a monthly report carries (by the dashboard's table names), in this order.
REPORT_TABLES = ("figures", "stages", "closure_reasons", "steps", "by_facilitator", "caseload",
                 "aftercare", "referrals")


@dataclass
class MonthlyReport:
    kind: str  # "facilitator" or "team"
    month: date
    author: User  # who reports: the facilitator, or the supervisor for a team
    supervisor: User | None
    about: Table
    tables: list[Table]
    made_at: datetime

    @property
    def title(self) -> str:
        return _("Facilitator's monthly report") if self.kind == "facilitator" else _("Team monthly report")

    @property
    def number(self) -> str:
        code = "LBP" if self.kind == "facilitator" else "LBT"
        return f"{code}/{self.author.username}/{self.month:%Y-%m}"


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def report_subject(user: User, facilitator_id: int | None) -> tuple[str, User]:
    """Whose report `user` may make: a facilitator their own; a supervisor their team's,
    or one facilitator's of their team (any other id is unknown to them)."""
    if user.role == Role.FACILITATOR:
        if facilitator_id not in (None, user.id):
            raise NotFound(_("No such facilitator in your team."))
        return "facilitator", user
    if user.role != Role.SUPERVISOR:
        raise NotFound(_("Monthly reports are made by facilitators and supervisors."))
    if facilitator_id is None:
        return "team", user
    found = db.session.execute(select(User).where(User.id == facilitator_id,
                                                  User.id.in_(access.supervised_ids(user)))).scalar_one_or_none()
    if found is None:
        raise NotFound(_("No such facilitator in your team."))
    return "facilitator", found


def monthly_report(user: User, facilitator_id: int | None, month: date, locale: str) -> MonthlyReport:
    kind, subject = report_subject(user, facilitator_id)
    start, end = month_bounds(month)
    filters = fg.Filters(start=start, end=end, facilitator_id=subject.id if kind == "facilitator" else None)
    dashboard = build(figures(filters, user), user, locale, lambda figure, key, by: None)
    chosen = {table.name: table for table in dashboard.tables}
    selected = [chosen[name] for name in REPORT_TABLES if name in chosen]
    made_at = datetime.now(UTC)
    report = MonthlyReport(kind, start, subject, subject.supervisor if kind == "facilitator" else None,
                           Table("about", "", []), selected, made_at)
    report.about = about_table(f"{report.title} · {fmt.month(start, locale, long=True)}", user, filters, made_at,
                               locale)
    return report


def monthly_pdf(report: MonthlyReport, *, locale: str, zone: str) -> bytes:
    head = current_letterhead()
    w = _Writer(zone, locale, None, head)
    w.numbered_title(report.title, report.number, head.legal_basis)
    person = report.author
    w.pairs([
        (_("Period"), fmt.month(report.month, locale, long=True)),
        (_("Facilitator") if report.kind == "facilitator" else _("Supervisor"), person.full_name),
        (_("NIP PPPK"), person.nip_pppk or "—"),
        (_("Province"), person.province.name if person.province else "—"),
    ])
    for table in report.tables:
        if not table.rows:
            continue
        w.h2(str(table.title))
        rows: list[list[Any]] = [[str(h) for h in table.headers]]
        rows += [[v if isinstance(v, str) else fmt.cell_text(v, locale, zone) for v in row] for row in table.rows]
        first = 60 * mm if len(table.headers) > 2 else 110 * mm
        rest = (174 * mm - first) / max(1, len(table.headers) - 1)
        w.table(rows, widths=(first, *([rest] * (len(table.headers) - 1))))
    place = head.city or (person.province.name if person.province else "")
    day = fmt.place_and_date(place, report.made_at, locale, zone)
    if report.kind == "facilitator":
        blocks = [(_("Acknowledged by the supervisor"), report.supervisor.full_name if report.supervisor else "",
                   _nip(report.supervisor)),
                  (_("Reported by the facilitator"), person.full_name, _nip(person))]
    else:
        blocks = [("", "", None), (_("Supervisor"), person.full_name, _nip(person))]
    w.signatures(day, blocks)
    return w.build(f"{report.title} {report.month:%Y-%m}")
