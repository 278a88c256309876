"""How pages say a case's next action (services.deadlines.NextAction): who, what, by when,
and a badge when it is late or due today (the markup: templates/feedback/_notes.html)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from flask import current_app
from flask_babel import gettext as _

from ..models.deadlines import DeadlineStatus
from ..services import deadlines
from .formatting import localdate, locale_code


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


def action_noter() -> Callable[[deadlines.NextAction | None], ActionNote | None]:
    """`action_note` for the rows of one page, one at a time (what they share said once)."""
    memo: dict[Any, Any] = {}
    return lambda action: _note(action, memo) if action is not None else None


def action_note(action: deadlines.NextAction | None) -> ActionNote | None:
    """What the page says of a next action (none: nothing to say)."""
    return _note(action, {}) if action is not None else None


# Translated once per application and language (the catalogs are read at start-up): the
# notes' words, and what must be done (deadlines' wordings, one lazy string each per stage
# or request: kept by the object, whose identity is checked, a few dozen at most).
_TRANSLATED = "caseflow.action_note_words"
_KEPT_WORDINGS = 512


def _words(memo: dict[Any, Any]) -> dict[str, Any]:
    """The notes' words in the reader's language, looked up once per page."""
    words = memo.get("words")
    if words is None:
        locale = locale_code()
        translated = current_app.extensions.setdefault(_TRANSLATED, {})
        words = translated.get(locale)
        if words is None:
            words = translated[locale] = {
                "mine": _("Your move"), "supervisor": _("Supervisor"), "by": _("by %(day)s 23:59 %(zone)s"),
                "overdue": _("Overdue"), "late_with": _("Late with %(name)s"), "due_today": _("Due today"),
                "what": {}, "locale": locale,
            }
        memo["words"] = words
    return words


def _what(what: Any, words: dict[str, Any]) -> str:
    known = words["what"]
    found = known.get(id(what))
    if found is None or found[0] is not what:
        if len(known) >= _KEPT_WORDINGS:
            known.clear()
        found = known[id(what)] = (what, str(what))
    return found[1]


def _note(action: deadlines.NextAction, memo: dict[Any, Any]) -> ActionNote:
    words = _words(memo)
    what = _what(action.what, words)
    status = action.status.value if action.status else ""
    who = words["mine"] if action.mine else action.holder_name or words["supervisor"]
    text = f"{who}: {what}"
    if action.due_at:
        # Cases of a page share deadlines (the end of a day in a zone): each written once.
        by = memo.get((action.due_at, action.zone))
        if by is None:
            by = memo[action.due_at, action.zone] = " · " + words["by"] % {
                "day": localdate(action.last_day, locale=words["locale"]), "zone": action.zone_abbreviation}
        text += by
    badge_class, badge = "", ""
    if status == DeadlineStatus.OVERDUE:
        badge_class = "badge-overdue" if action.mine else "badge-waiting"
        badge = words["overdue"] if action.mine else words["late_with"] % {"name": action.holder_name}
    elif status == DeadlineStatus.DUE_TODAY:
        badge_class, badge = "badge-waiting", words["due_today"]
    css = f"next-action due-{status.replace('_', '-')}" if action.mine and status else "next-action"
    return ActionNote(css, action.holder, status, text, badge_class, badge)
