"""The private calendar feed (iCalendar, RFC 5545) of a person's agenda, built with the
`icalendar` library, so the agenda shows in the tablet's or phone's own calendar app.

A phone calendar is read by other apps, synchronised to other accounts and shown on a
locked screen: an event says only the item's type and the case number. With the person's
opt-in (agenda settings) it also carries the place, purpose, institution, goal or action
point; never
the client's name.
"""

from __future__ import annotations

from datetime import timedelta

import icalendar
from flask_babel import force_locale
from flask_babel import gettext as _

from ..database import utcnow
from ..i18n.agenda_labels import agenda_labels
from ..models import User
from ..services.agenda import AgendaItem

VISIT_LENGTH = timedelta(hours=1)
DETAIL_FIELDS = ("place", "purpose", "institution", "goal", "description")


def _summary(item: AgendaItem) -> str:
    return f"{agenda_labels.kind(item.kind)} · {item.case_number}"


def _description(item: AgendaItem) -> str:
    return "\n".join(f"{item.details[name]}" for name in DETAIL_FIELDS if item.details.get(name))


def calendar_bytes(user: User, items: list[AgendaItem], *, details: bool, base_url: str) -> bytes:
    """The feed of `items`, in `user`'s language: timed events for planned visits, all-day
    events for deadlines; each with a stable UID so calendar apps update, not duplicate."""
    now = utcnow()
    with force_locale(user.locale or "id"):
        calendar = icalendar.Calendar()
        calendar.add("prodid", "-//Caseflow//Agenda//ID")
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("x-wr-calname", f"Caseflow · {_('Work agenda')}")
        for item in items:
            event = icalendar.Event()
            event.add("uid", f"{item.key}@caseflow")
            event.add("dtstamp", now)
            if item.starts_at is not None:
                event.add("dtstart", item.starts_at)
                event.add("dtend", item.starts_at + VISIT_LENGTH)
            else:
                event.add("dtstart", item.day)
                event.add("dtend", item.day + timedelta(days=1))
            event.add("summary", _summary(item))
            if details and _description(item):
                event.add("description", _description(item))
            event.add("url", f"{base_url.rstrip('/')}/cases/{item.case_id}")
            calendar.add_component(event)
        return calendar.to_ical()
