"""How pages say a case's next action (services.deadlines.NextAction): who, what, by when,
and a badge when it is late or due today (the markup: templates/feedback/_notes.html)."""

from __future__ import annotations

from typing import Any, NamedTuple

from flask_babel import gettext as _

from ..models.deadlines import DeadlineStatus
from ..services import deadlines
from .formatting import localdate


class ActionNote(NamedTuple):
    """A next action as a page says it (feedback/_notes.html): the words are put together
    here, so that a list of cases looks each wording up once, not once per row."""

    css: str
    holder: str
    status: str  # DeadlineStatus value, or ""
    text: str  # "Your move: Finish the stage “Assessment” · by 5 Dec 2026 23:59 WIT"
    badge_class: str
    badge: str  # "" for none


def action_notes(actions: dict[int, deadlines.NextAction]) -> dict[int, ActionNote]:
    """`action_note` for a page of cases ({case id: note})."""
    memo: dict[Any, Any] = {}
    return {key: _note(action, memo) for key, action in actions.items()}


def action_note(action: deadlines.NextAction | None) -> ActionNote | None:
    """What the page says of a next action (none: nothing to say)."""
    return _note(action, {}) if action is not None else None


# The words a note may use, each translated when a page first needs it (a case's page says
# one note: two or three of them).
_WORDS = {
    "mine": lambda: _("Your move"), "supervisor": lambda: _("Supervisor"),
    "by": lambda: _("by %(day)s 23:59 %(zone)s"), "overdue": lambda: _("Overdue"),
    "late_with": lambda: _("Late with %(name)s"), "due_today": lambda: _("Due today"),
}


class _Words(dict):
    """The note's words in the reader's language, translated on first use."""

    def __missing__(self, key: str) -> str:
        word = self[key] = _WORDS[key]()
        return word


def _note(action: deadlines.NextAction, memo: dict[Any, Any]) -> ActionNote:
    words = memo.get("words")
    if words is None:
        words = memo["words"] = _Words()
    what = memo.get(id(action.what))
    if what is None:
        what = memo[id(action.what)] = str(action.what)
    status = action.status.value if action.status else ""
    who = words["mine"] if action.mine else action.holder_name or words["supervisor"]
    text = f"{who}: {what}"
    if action.due_at:
        text += " · " + words["by"] % {"day": localdate(action.last_day), "zone": action.zone_abbreviation}
    badge_class, badge = "", ""
    if status == DeadlineStatus.OVERDUE:
        badge_class = "badge-overdue" if action.mine else "badge-waiting"
        badge = words["overdue"] if action.mine else words["late_with"] % {"name": action.holder_name}
    elif status == DeadlineStatus.DUE_TODAY:
        badge_class, badge = "badge-waiting", words["due_today"]
    css = f"next-action due-{status.replace('_', '-')}" if action.mine and status else "next-action"
    return ActionNote(css, action.holder, status, text, badge_class, badge)
