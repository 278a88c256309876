"""The auditor's pages: case search within scope, a case's history as a timeline of every
audit event with what changed, a facilitator's trail over a period, and the integrity
check of the hash chains.

Opening a case's history is a read of the case and is recorded like one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from ..errors import ValidationError
from ..extensions import db
from ..i18n import _l, audit_labels
from ..models import AccountChange, AuditEvent, Case, Client, PpksCategory, Province, Role, User
from ..schemas import is_plausible_day, page_number, parse_row_id
from ..services import access
from ..services import audit as audit_services
from ..services import cases as case_services
from ..services.runtime import engine
from . import navigation
from .auth import request_actor
from .errors import render_invalid
from .formatting import locale_code, role_name, viewer_zone
from .helpers import containing, paginate, require_role, search_text

bp = Blueprint("audit", __name__, url_prefix="/audit")

navigation.register("audit.search", _l("Case search"), (Role.AUDITOR,), order=10)
navigation.register("audit.trail", _l("Facilitator trail"), (Role.AUDITOR,), order=20)
navigation.register("audit.integrity", _l("Integrity check"), (Role.AUDITOR,), order=30)
navigation.register("audit.account_changes", _l("Privileged account changes"), (Role.AUDITOR,), order=40)

PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 50  # about 2 KB an event: a page stays well under 150 KB
TRAIL_LIMIT = 500
MAX_TRAIL_DAYS = 366


@bp.before_request
@login_required
def _auditors_only():
    require_role(Role.AUDITOR)


# --- what changed -------------------------------------------------------------------


def action_name(action: str) -> str:
    return audit_labels.event_name(action)


@dataclass(frozen=True)
class Change:
    """One field an event changed: its path and label, and the values before and after
    as a person reads them (with the stored values beside them for the expert)."""

    field: str
    before: str | None
    after: str | None
    label: str = ""
    raw_before: str | None = None
    raw_after: str | None = None

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'goals.1.description': 'Kembali sekolah', …}: nested records as readable paths
    (list items numbered from 1, as people count)."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat or ({prefix: {}} if prefix else {})
    if isinstance(value, list):
        flat = {}
        for index, item in enumerate(value, start=1):
            flat.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat or ({prefix: []} if prefix else {})
    return {prefix or "value": value}


def _names(zone: str | None = None) -> audit_labels.Names:
    return audit_labels.Names(zone=zone or viewer_zone(), locale=locale_code())


class Wording:
    """audit_labels' words for one page's events, each field and value put into words once:
    a page of events repeats the same fields and values (each look-up goes through the
    request's catalog)."""

    def __init__(self, names: audit_labels.Names) -> None:
        self.names = names
        self._labels: dict[str, str] = {}
        self._values: dict[tuple[str, type, Any], str] = {}
        self._actions: dict[str, str] = {}
        self._roles: dict[str | None, str] = {}

    def label(self, path: str) -> str:
        text = self._labels.get(path)
        if text is None:
            text = self._labels[path] = audit_labels.field_name(path)
        return text

    def value(self, path: str, value: Any) -> str:
        if isinstance(value, dict | list):  # an emptied record: not a key
            return audit_labels.value_text(path, value, self.names)
        key = (path, type(value), value)  # the type too: True and 1 are equal keys
        text = self._values.get(key)
        if text is None:
            text = self._values[key] = audit_labels.value_text(path, value, self.names)
        return text

    def action(self, action: str) -> str:
        text = self._actions.get(action)
        if text is None:
            text = self._actions[action] = action_name(action)
        return text

    def role(self, role: str | None) -> str:
        text = self._roles.get(role)
        if text is None:
            text = self._roles[role] = role_name(role)
        return text


def changes(before: Any, after: Any, names: audit_labels.Names | None = None,
            wording: Wording | None = None) -> list[Change]:
    """Field by field, what an event changed: added, removed or changed; unchanged
    fields are left out (they are still in the event, and in an evidence package)."""
    words = wording or Wording(names or _names())
    old, new = _flatten(before) if before is not None else {}, _flatten(after) if after is not None else {}
    result = []
    for key in list(old) + [k for k in new if k not in old]:
        if key in old and key in new and old[key] == new[key]:
            continue
        if audit_labels.is_record_number(key):
            continue  # the row's own id: in the event and the evidence package, not a change to read
        result.append(Change(
            key,
            words.value(key, old[key]) if key in old else None,
            words.value(key, new[key]) if key in new else None,
            words.label(key),
            audit_labels.raw_text(old[key]) if key in old else None,
            audit_labels.raw_text(new[key]) if key in new else None,
        ))
    return result


def _context_items(context: Any, words: Wording) -> list[tuple[str, str, str]]:
    """(label, readable value, raw key=value) of what an event noted beside its change."""
    if not isinstance(context, dict):
        return []
    return [(words.label(path), words.value(path, item), f"{key}={audit_labels.raw_text(item)}")
            for key, flat in context.items() for path, item in _flatten(flat, str(key)).items()]


# --- case search ----------------------------------------------------------------------


def _province_options() -> list[tuple[str, str]]:
    statement = select(Province).order_by(Province.name)
    if current_user.auditor_scope_province_code:
        statement = statement.where(Province.code == current_user.auditor_scope_province_code)
    return [(p.code, f"{p.name} ({p.code})") for p in db.session.execute(statement).scalars()]


@bp.route("/cases")
def search():
    """Cases within the auditor's scope, by case number or client name, and province."""
    query = search_text()
    province = request.args.get("province") or ""
    statement = access.visible_cases(current_user, select(Case).join(Client, Case.client_id == Client.id))
    if query:
        statement = statement.where(containing(query, Case.number, Client.full_name))
    if province:
        statement = statement.where(Case.province_code == province)
    found = paginate(
        statement.options(selectinload(Case.client), selectinload(Case.facilitator),
                          selectinload(Case.ppks_category), selectinload(Case.province))
        .order_by(Case.opened_at.desc(), Case.id.desc()), PAGE_SIZE)
    return render_template("audit/search.html", cases=found.items, **found.fields(),
                           filters={"q": query, "province": province}, province_options=_province_options())


# --- a case's history ---------------------------------------------------------------------


HISTORY_KINDS = ("all", "changes", "reads")


class _Lazy(Mapping[Any, Any]):
    """A mapping read from the database when first asked (a page whose values never refer
    to one costs no statement)."""

    def __init__(self, load: Callable[[], dict[Any, Any]]) -> None:
        self._load, self._found = load, None

    def _items(self) -> dict[Any, Any]:
        if self._found is None:
            self._found = self._load()
        return self._found

    def __getitem__(self, key: Any) -> Any:
        return self._items()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())


def _reference_names(locale: str) -> tuple[dict[str, str], dict[str, str]]:
    """The PPKS categories' names in `locale` and the provinces' names by code: reference
    data, changed only with a deploy, read once per application and language."""
    kept = current_app.extensions.setdefault("caseflow.audit_reference_names", {})
    found = kept.get(locale)
    if found is None:
        found = kept[locale] = (
            {c.code: c.name(locale) for c in db.session.execute(select(PpksCategory)).scalars()},
            {code: name for code, name in db.session.execute(select(Province.code, Province.name))})
    return found


def _plan_goals(case_id: int) -> dict[int, str]:
    """{goal id: description} of every goal the case's plans ever named (its plan.saved events)."""
    goals: dict[int, str] = {}
    for (after,) in db.session.execute(select(AuditEvent.after).where(
            AuditEvent.case_id == case_id, AuditEvent.action == "plan.saved")):
        for goal in (after or {}).get("goals", []):
            if isinstance(goal, dict) and isinstance(goal.get("id"), int):
                goals[goal["id"]] = goal.get("description") or ""
    return goals


def _case_names(case: Case, events: list[Any], people: dict[int, str]) -> audit_labels.Names:
    """The people, categories, provinces, goals and stages the case's events refer to.
    `people`: names already read (the case's actors); anyone else the events name is read."""
    locale = locale_code()
    person_ids = set()
    for e in events:
        for record in (e.before, e.after, e.context):
            if isinstance(record, dict):
                person_ids.update(v for k, v in _flatten(record).items()
                                  if k.rsplit(".", 1)[-1] in audit_labels.PERSON_FIELDS and isinstance(v, int))
    missing = person_ids - people.keys()
    if missing:
        people = people | dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(missing))).all())
    earlier = {v for e in events if isinstance(e.context, dict)
               for v in (e.context.get("earlier_case_ids") or []) if isinstance(v, int)}
    cases = dict(db.session.execute(access.visible_cases(current_user, select(Case.id, Case.number))
                                    .where(Case.id.in_(earlier))).all()) if earlier else {}
    categories, provinces = _reference_names(locale)
    definition = engine(case.workflow).definition
    return audit_labels.Names(
        people=people, categories=categories, provinces=provinces,
        goals=_Lazy(lambda: _plan_goals(case.id)), clients={case.client_id: case.client.full_name}, cases=cases,
        state_title=lambda code: definition.states[code].title(locale) if code in definition.states else code,
        trigger_title=lambda code: (definition.triggers[code][0].title(locale)
                                    if code in definition.triggers else code),
        zone=viewer_zone(), locale=locale,
    )


class _Actor(NamedTuple):
    full_name: str
    username: str


# What the timeline shows of an event (not its hashes, salt, digest or user agent).
_TIMELINE_COLUMNS = (AuditEvent.id, AuditEvent.chain, AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.actor_id,
                     AuditEvent.actor_role, AuditEvent.origin_ip, AuditEvent.action, AuditEvent.before,
                     AuditEvent.after, AuditEvent.context, AuditEvent.redacted_at)


def _history_filters(case: Case) -> tuple[dict[str, Any], list[Any]]:
    """The history's filters from the query string (what kind of events, whose, which
    days in the auditor's zone): unknown values are ignored, never an error."""
    kind = request.args.get("kind", "all")
    kind = kind if kind in HISTORY_KINDS else "all"
    person = parse_row_id(request.args.get("person") or "") if request.args.get("person") else None
    days: dict[str, date | None] = {}
    for name in ("from", "until"):
        try:
            days[name] = date.fromisoformat(request.args.get(name) or "")
        except ValueError:
            days[name] = None
        if days[name] is not None and not is_plausible_day(days[name]):
            days[name] = None
    conditions: list[Any] = []
    reads = list(audit_labels.READ_EVENTS)
    if kind == "changes":
        conditions.append(AuditEvent.action.not_in(reads))
    elif kind == "reads":
        conditions.append(AuditEvent.action.in_(reads))
    if person:
        conditions.append(AuditEvent.actor_id == person)
    zone = ZoneInfo(viewer_zone())
    if days["from"]:
        conditions.append(AuditEvent.occurred_at >= datetime.combine(days["from"], time(), zone).astimezone(UTC))
    if days["until"]:
        conditions.append(AuditEvent.occurred_at < datetime.combine(days["until"] + timedelta(days=1), time(),
                                                                    zone).astimezone(UTC))
    form = {"kind": kind, "person": person, "from": days["from"].isoformat() if days["from"] else "",
            "until": days["until"].isoformat() if days["until"] else ""}
    return form, conditions


def _compact(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reads of the same kind by the same person one after the other become one entry
    ("viewed 5 times between … and …"); changes are never folded."""
    result: list[dict[str, Any]] = []
    for entry in entries:
        e = entry["event"]
        last = result[-1] if result else None
        if (last is not None and e.action in audit_labels.READ_EVENTS and last["event"].action == e.action
                and last["event"].actor_id == e.actor_id and not entry["changes"]):
            last["repeats"].append(e)
            continue
        entry["repeats"] = []
        result.append(entry)
    return result


@bp.route("/cases/<int:case_id>/history")
def history(case_id: int):
    """Every audit event of the case, oldest first: who, in which role, when (local time
    and UTC), from where, and what changed, in words; filtered by kind, person and period."""
    case = case_services.read_case(request_actor(), case_id, what="audit history", limit=0, records=False).case
    condition = or_(AuditEvent.case_id == case.id, AuditEvent.chain == audit_services.case_chain(case.id))
    form, filters = _history_filters(case)
    # Everyone who acted on the case (the filter's people, the timeline's names), with how
    # many events in all and how many the filters keep: one statement. The events are
    # counted by actor first, then the few actors are joined to their names (joining every
    # event to its actor's row and grouping by the names cost PostgreSQL twice as much).
    counted = (select(AuditEvent.actor_id.label("actor_id"), func.count().label("total"),
                      (func.count().filter(and_(*filters)) if filters else func.count()).label("shown"))
               .where(condition).group_by(AuditEvent.actor_id).subquery())
    actors = db.session.execute(
        select(counted.c.actor_id, User.full_name, User.username, counted.c.total, counted.c.shown)
        .outerjoin(User, User.id == counted.c.actor_id)).all()
    known = {row[0]: _Actor(row[1], row[2]) for row in actors if row[0] is not None and row[1] is not None}
    people_options = sorted(((user_id, actor.full_name) for user_id, actor in known.items()), key=lambda p: p[1])
    total, shown = sum(row[3] for row in actors), sum(row[4] for row in actors)
    pages = max(math.ceil(shown / TIMELINE_PAGE_SIZE), 1)
    page = min(page_number(request.args.get("page")), pages)
    # The page's events found by their order alone, then read whole: sorting every event of
    # the case with its records costs PostgreSQL more than finding the page's ids and
    # reading those 50 again (chain and seq make the order total: the same events).
    order = (AuditEvent.occurred_at, AuditEvent.chain, AuditEvent.seq)
    page_ids = (select(AuditEvent.id).where(condition, *filters).order_by(*order)
                .limit(TIMELINE_PAGE_SIZE).offset((page - 1) * TIMELINE_PAGE_SIZE).subquery())
    events = db.session.execute(
        select(*_TIMELINE_COLUMNS).join(page_ids, page_ids.c.id == AuditEvent.id).order_by(*order)).all() \
        if shown else []
    words = Wording(_case_names(case, events, {user_id: actor.full_name for user_id, actor in known.items()}))
    entries = _compact([{"event": e, "actor": known.get(e.actor_id), "action": words.action(e.action),
                         "role": words.role(e.actor_role), "changes": changes(e.before, e.after, wording=words),
                         "context": _context_items(e.context, words)}
                        for e in events])
    filter_args = {k: v for k, v in form.items() if v and v != "all"}
    return render_template("audit/history.html", case=case, entries=entries, total=total, shown=shown,
                           page=page, pages=pages, form=form, people_options=people_options,
                           filter_args=filter_args)


# --- a facilitator's trail ------------------------------------------------------------------


def _facilitators() -> list[User]:
    statement = select(User).where(User.role == Role.FACILITATOR).order_by(User.full_name)
    if current_user.auditor_scope_province_code:
        statement = statement.where(User.province_code == current_user.auditor_scope_province_code)
    return list(db.session.execute(statement).scalars())


def _trail_form() -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The trail's period and person from the query string; today and the 30 days
    before it when nothing is chosen."""
    today = datetime.now(ZoneInfo(viewer_zone())).date()
    raw = {"facilitator_id": request.args.get("facilitator_id", ""),
           "from": request.args.get("from") or (today - timedelta(days=30)).isoformat(),
           "until": request.args.get("until") or today.isoformat()}
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in ("from", "until"):
        try:
            values[name] = date.fromisoformat(raw[name])
        except ValueError:
            errors[name] = [_("Enter a date (YYYY-MM-DD).")]
        else:
            if not is_plausible_day(values[name]):
                errors[name] = [_("Use a date between 1900 and 2100.")]
    if not errors:
        if values["until"] < values["from"]:
            errors["until"] = [_("The end of the period is before its start.")]
        elif (values["until"] - values["from"]).days > MAX_TRAIL_DAYS:
            errors["until"] = [_("Choose a period of at most a year.")]
    facilitator = None
    if raw["facilitator_id"]:
        chosen = parse_row_id(raw["facilitator_id"])
        facilitator = next((u for u in _facilitators() if u.id == chosen), None)
        if facilitator is None:
            errors["facilitator_id"] = [_("Choose a facilitator within your scope.")]
    values["facilitator"] = facilitator
    return raw | values, errors


@bp.route("/trail")
def trail():
    """All actions of one facilitator over a period (days in the auditor's zone). Events
    about cases outside the auditor's scope are left out and counted."""
    form, errors = _trail_form()
    facilitators = [(str(u.id), f"{u.full_name} ({u.username})") for u in _facilitators()]
    context = {"facilitator_options": facilitators, "form": form, "entries": [], "left_out": 0,
               "truncated": False}
    if errors:
        return render_invalid("audit/trail.html", ValidationError(_("Some fields need attention."), fields=errors),
                              **context)
    facilitator = form["facilitator"]
    if facilitator is None:
        return render_template("audit/trail.html", errors={}, **context)
    zone = ZoneInfo(viewer_zone())
    start = datetime.combine(form["from"], time(), zone).astimezone(UTC)
    end = datetime.combine(form["until"] + timedelta(days=1), time(), zone).astimezone(UTC)
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.actor_id == facilitator.id, AuditEvent.occurred_at >= start,
                                 AuditEvent.occurred_at < end)
        .order_by(AuditEvent.occurred_at, AuditEvent.id).limit(TRAIL_LIMIT + 1)
    ).scalars().all()
    truncated = len(events) > TRAIL_LIMIT
    events = events[:TRAIL_LIMIT]
    case_ids = {e.case_id for e in events if e.case_id is not None}
    visible = {c.id: c for c in db.session.execute(
        access.visible_cases(current_user, select(Case)).where(Case.id.in_(case_ids))).scalars()} if case_ids else {}
    shown = [e for e in events if e.case_id is None or e.case_id in visible]
    entries = [{"event": e, "case": visible.get(e.case_id), "action": action_name(e.action),
                # The fields an action touched, not their content: the content is read on
                # the case's history page, where the read is recorded.
                "fields": [(c.label, c.field) for c in changes(e.before, e.after)]}
               for e in shown]
    context.update(entries=entries, left_out=len(events) - len(shown), truncated=truncated)
    return render_template("audit/trail.html", errors={}, **context)


# --- integrity ---------------------------------------------------------------------------


@bp.route("/integrity", methods=["GET", "POST"])
def integrity():
    """Run the chain verification: every chain, head and checkpoint, or one case's chain."""
    if request.method == "GET":
        return render_template("audit/integrity.html", report=None, errors={}, form={}, case=None)
    number = (request.form.get("case_number") or "").strip()
    case = None
    if number:
        case = db.session.execute(
            access.visible_cases(current_user, select(Case)).where(Case.number == number)).scalar_one_or_none()
        if case is None:
            error = ValidationError(_("No case with this number in your scope."),
                                    fields={"case_number": [_("No case with this number in your scope.")]})
            return render_invalid("audit/integrity.html", error, report=None, case=None)
        report = audit_services.verify_case_chain(case.id)
    else:
        report = audit_services.verify_everything()
    return render_template("audit/integrity.html", report=report, errors={}, form=request.form, case=case,
                           checked_at=datetime.now(UTC))


# --- privileged account changes ---------------------------------------------------------


@bp.route("/account-changes")
def account_changes():
    """Every privileged change to an account, newest first: asked for through the web and
    confirmed or rejected by a second administrator, still waiting, or made on the server's
    command line. Staff accounts, not client data: every auditor sees the whole list."""
    found = paginate(
        select(AccountChange).options(selectinload(AccountChange.target), selectinload(AccountChange.requested_by),
                                      selectinload(AccountChange.decided_by))
        .order_by(AccountChange.requested_at.desc(), AccountChange.id.desc()), PAGE_SIZE)
    return render_template("audit/account_changes.html", changes=found.items, **found.fields())
