"""The facilitator's pages: my cases, registering a client, opening a case, the case page
with its stage forms and actions, and logging a step.

The case page is also the read-only case view of supervisors and auditors: it offers only
what the viewer may do (services.cases.available_actions, access.holds_case_role).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import Select, Subquery, bindparam, func, select, true
from sqlalchemy.orm import aliased

from ..database import utcnow
from ..errors import NotFound, TooMany, ValidationError
from ..extensions import db
from ..i18n import _l
from ..i18n.formatting import moment
from ..i18n.labels import labels
from ..models import Case, Client, PpksCategory, Province, Referral, Role, SignOff, User
from ..schemas import ascii_number, parse_step_key, step_key_text
from ..services import (
    access,
    aftercare,
    deadlines,
    evaluation,
    feedback,
    notifications,
    sync_health,
)
from ..services import agenda as agenda_services
from ..services import attachments as attachment_services
from ..services import cases as case_services
from ..services import clients as client_services
from ..services import referrals as referral_services
from ..services import supervision as supervision_services
from ..services.clients import register_client
from ..services.runtime import engine, engines
from . import navigation
from .auth import request_actor
from .errors import errors_by_row, field_errors, render_invalid
from .formatting import locale_code, page_gettext, state_title
from .helpers import (
    Page,
    blank_to_none,
    containing,
    facilitator_form,
    paginate_counted,
    require_role,
    search_pattern,
    search_text,
    url_maker,
)
from .next_actions import ActionNote, action_note, action_noter

bp = Blueprint("cases", __name__)

navigation.register("cases.my_cases", _l("My cases"), (Role.FACILITATOR,), order=10)
navigation.register("cases.new_client", _l("Register a client"), (Role.FACILITATOR,), order=20)

PAGE_SIZE = 20
CASE_READERS = (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR)
CLIENT_REGISTRARS = (Role.FACILITATOR, Role.SUPERVISOR)


def _expected_version() -> int | None:
    return ascii_number(request.form.get("expected_version"))


# --- my cases --------------------------------------------------------------------


def _state_options() -> list[tuple[str, str]]:
    """The stages of every workflow, in their order, in the reader's language (the workflow
    files are read at start-up: worked out once per application and language)."""
    locale = locale_code()
    cache = current_app.extensions.setdefault("caseflow.state_options", {})
    options = cache.get(locale)
    if options is None:
        seen: dict[str, str] = {}
        for workflow in engines().values():
            for state in workflow.definition.stage_order():
                seen.setdefault(state, workflow.definition.states[state].title(locale))
        options = cache[locale] = list(seen.items())
    return options


class Category(NamedTuple):
    code: str
    name_id: str
    name_en: str

    def name(self, locale: str = "id") -> str:
        return self.name_en if locale == "en" else self.name_id


def _categories() -> list[Category]:
    """The PPKS categories: reference data shipped with the application (its seed changes
    only with a deploy), read once per application."""
    categories = current_app.extensions.get("caseflow.ppks_categories")
    if categories is None:
        categories = current_app.extensions["caseflow.ppks_categories"] = [
            Category(*row) for row in db.session.execute(
                select(PpksCategory.code, PpksCategory.name_id, PpksCategory.name_en).order_by(PpksCategory.code))]
    return categories


def _category_options() -> list[tuple[str, str]]:
    return _category_words()[1]


def _category_words() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The categories' names in the reader's language by code, and as the options of a
    filter: once per application and language."""
    locale = locale_code()
    words = current_app.extensions.setdefault("caseflow.category_words", {})
    found = words.get(locale)
    if found is None:
        categories = _categories()
        found = words[locale] = ({c.code: c.name(locale) for c in categories},
                                 [(c.code, f"{c.code} · {c.name(locale)}") for c in categories])
    return found


def _filter_select(name: str, options: list[tuple[str, str]], value: str) -> Markup:
    """The list's filter `name` with `value` chosen (templates/cases/_filter_select.html), as
    HTML made once per application, language and choice: its options are fixed (the
    workflows' stages, the categories), and a value that is none of them chooses none.
    Rendering a select of some thirty options cost about a fifth of the page's template."""
    chosen = value if any(value == option for option, _label in options) else ""
    rendered = current_app.extensions.setdefault("caseflow.list_filter_selects", {})
    key = (locale_code(), name, chosen)
    found = rendered.get(key)
    if found is None:
        found = rendered[key] = Markup(current_app.jinja_env.get_template("cases/_filter_select.html").render(
            name=name, options=options, value=chosen))
    return found


# The list's order: open cases first, the nearest stage deadline first.
_LIST_ORDER = (Case.closed_at.is_not(None), Case.stage_due_at.is_(None), Case.stage_due_at, Case.id)
_Facilitator, _Supervisor = aliased(User), aliased(User)


class CaseRow(NamedTuple):
    """One row of the list: what it shows of a case (read in the page's one statement),
    in the reader's words."""

    id: int
    url: str
    number: str
    client_name: str
    state: str
    state_title: str
    badge_class: str  # the stage's badge: resolved, closed, waiting for a decision, or none of these
    rejection_reason: str | None  # the last request was rejected: it stands until the next
    rejected: bool
    category_name: str
    facilitator_name: str
    note: ActionNote | None  # who must act next, by when


def _shown(page: Subquery) -> Select:
    """What each case of a page of the list shows, with the page's own columns after
    (`page`: the ids in the list's order, limited to the page; its last column the count).
    The requests are read by the case's index, a few rows each, for the page's cases only
    (a join would hash the whole table)."""
    return (
        # Whether the case is closed, not when: a time costs its reading (parsed, then made UTC).
        select(Case.id, Case.number, Client.full_name, Case.workflow, Case.state, Case.closed_at.is_not(None),
               Case.stage_due_at, Case.ppks_category_code, Case.facilitator_id, _Facilitator.full_name,
               _Supervisor.full_name,
               Province.timezone, deadlines.pending_request(SignOff.requested_trigger),
               deadlines.pending_request(SignOff.requested_at), feedback.latest_request(SignOff.decision),
               feedback.latest_request(SignOff.reason), *list(page.c)[1:])
        .join(page, page.c.id == Case.id)
        .join(Client, Client.id == Case.client_id)
        .join(Province, Province.code == Case.province_code)
        .join(_Facilitator, _Facilitator.id == Case.facilitator_id)
        .outerjoin(_Supervisor, _Supervisor.id == _Facilitator.supervisor_id)
        .order_by(*_LIST_ORDER)
    )


# A row of the list: the case's values (`_shown`), then the notices' flags if any, then the count.
_SHOWN_COLUMNS = 16


def _case_rows(rows: list[Any], viewer: User, categories: dict[str, str]) -> list[CaseRow]:
    """The page's rows as the list shows them: what is the same for many rows (a stage's
    title, a category's name, the link, the notes' words) is worked out once per page."""
    titles: dict[tuple[str, str], str] = {}
    case_url, note, now = url_maker("cases.show", "case_id"), action_noter(), utcnow()
    shown = []
    for row in rows:
        (case_id, number, client_name, workflow, state, closed, due, category, facilitator_id, facilitator_name,
         supervisor_name, zone, pending_trigger, pending_at, decision, reason) = row[:_SHOWN_COLUMNS]
        title = titles.get((workflow, state))
        if title is None:
            title = titles[workflow, state] = state_title(workflow, state)
        facts = deadlines.CaseFacts(workflow, state, zone, facilitator_id, facilitator_name, supervisor_name, due,
                                    pending_trigger, pending_at)
        badge = ("badge-resolved" if state == "resolved" else "badge-closed" if closed
                 else "badge-waiting" if pending_trigger is not None else "badge-state")
        shown.append(CaseRow(case_id, case_url(case_id), number, client_name, state, title, badge, reason,
                             decision == feedback.REJECTED,
                             categories.get(category, ""), facilitator_name,
                             note(deadlines.next_action_of(facts, viewer, now))))
    return shown


def _notice_flags(viewer: Any, today: Any, now: Any) -> Subquery | None:
    """One row for the notices above a facilitator's or supervisor's list: the menu's
    unread count, whether a referral is overdue, whether an aftercare contact is due now.
    Read with the page's ids (joined to each of them), so the notices cost no statement
    of their own; a list is read only when there is something in it. `today` and `now`:
    the viewer's day and the time (bound parameters in a statement built once)."""
    if viewer.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        return None
    return select(
        notifications.unread_statement(viewer).label("unread"),
        referral_services.overdue(viewer, select(Referral.id), today).exists().label("late"),
        aftercare.contacts_due_exist(viewer, now, today).label("due"),
    ).subquery("notices")


def _notices(viewer: User, flags: Subquery | None, found: Page, params: dict[str, Any]) -> dict[str, Any]:
    """The notices' lists, from the flags read with the page (or alone, for no page)."""
    if flags is None:
        return {}
    unread, late, due = (found.items[0][_SHOWN_COLUMNS:_SHOWN_COLUMNS + 3] if found.items
                         else db.session.execute(select(flags), params).one())
    navigation.known_count(notifications.unread_count, unread)
    return {"late_referrals": referral_services.overdue_with_cases(viewer) if late else [],
            "due_contacts": aftercare.contacts_due(viewer) if due else []}


def _list_statement(viewer: Any, flags: Subquery | None, today: Any, query: bool, state: bool,
                    category: bool) -> Select:
    """The viewer's cases in the list's order, each with the notices' `flags` and the count
    of the whole list; the filters given are bound parameters (pattern, state, category)."""
    if flags is None:
        statement = select(Case.id, func.count().over())
    else:  # one row, joined to every case: its values repeat on each
        statement = select(Case.id, *flags.c, func.count().over()).select_from(Case).join(flags, true())
    statement = access.visible_cases(viewer, statement, today)
    if query:
        statement = statement.join(Client, Case.client_id == Client.id).where(
            containing(bindparam("pattern"), Client.full_name, Case.number))
    if state:
        statement = statement.where(Case.state == bindparam("state"))
    if category:
        statement = statement.where(Case.ppks_category_code == bindparam("category"))
    return statement.order_by(*_LIST_ORDER)


class _Viewer(NamedTuple):
    """The viewer as a statement built once names them: their id a bound parameter (whose
    cases they see depends on nothing else that changes but their day, also bound: the
    delegations a supervisor acts under)."""

    id: Any
    role: str
    auditor_scope_province_code: str | None


class _ListStatements(NamedTuple):
    """A list's statements of one shape, built once (`_list_built_once`)."""

    listed: Select  # the viewer's case ids in order, with the notices' flags and the count
    page: Select  # a page of `listed` (page_limit, page_offset) with what its rows show
    flags: Subquery | None  # the notices' flags alone, for a page with no row


@lru_cache(maxsize=256)
def _list_built_once(role: str, scope: str | None, query: bool, state: bool, category: bool) -> _ListStatements:
    """A list's statements by its shape: building and keying a statement cost more than
    running it. The viewer, their day and the time are bound parameters (viewer_id, today,
    now)."""
    viewer, today = _Viewer(bindparam("viewer_id"), role, scope), bindparam("today")
    flags = _notice_flags(viewer, today, bindparam("now"))
    listed = _list_statement(viewer, flags, today, query, state, category)
    page = listed.limit(bindparam("page_limit")).offset(bindparam("page_offset")).subquery("page")
    return _ListStatements(listed, _shown(page), flags)


def _page_of_cases(viewer: User, query: str, state: str, category: str) -> tuple[Page, dict[str, Any]]:
    """The page of the viewer's cases that ?page= asks for, in one statement: each row what
    a case shows, the notices' flags and the count of the whole list (the page is chosen
    first, then joined to the rows' values: they are read for its cases only). Also the
    flags and the parameters the statement was run with."""
    params: dict[str, Any] = {}
    if query:
        params["pattern"] = search_pattern(query)
    if state:
        params["state"] = state
    if category:
        params["category"] = category
    statements = _list_built_once(viewer.role, viewer.auditor_scope_province_code, bool(query),
                                  bool(state), bool(category))
    params |= {"viewer_id": viewer.id, "today": referral_services.today_for(viewer), "now": utcnow()}
    found = paginate_counted(statements.listed, PAGE_SIZE, params, built_once=True, paged=statements.page)
    return found, {"flags": statements.flags, "params": params}


def _page_url(filters: dict[str, str]) -> Callable[[int], str]:
    """url_for("cases.my_cases", page=n, **filters) for the pager's links, with one url_for:
    the page is the query string's first argument (the order they are given in), so the
    first marker is its value, whatever the filters hold."""
    unfiltered = not any(filters.values())  # most lists: their links' text kept per script root
    known = current_app.extensions.setdefault("caseflow.list_page_links", {})
    parts = known.get(request.script_root) if unfiltered else None
    if parts is None:
        marker = "987654321"
        parts = tuple(url_for("cases.my_cases", page=marker, **filters).split(marker, 1))
        if unfiltered:
            known[request.script_root] = parts
    head, tail = parts
    return lambda page: f"{head}{int(page)}{tail}"


@bp.route("/cases")
@login_required
def my_cases():
    """The cases the viewer may open, searchable by client name or case number."""
    require_role(*CASE_READERS)
    viewer = current_user._get_current_object()
    query = search_text()
    state = request.args.get("state") or ""
    category = request.args.get("category") or ""
    found, notices = _page_of_cases(viewer, query, state, category)
    category_names, category_options = _category_words()
    filters = {"q": query, "state": state, "category": category}
    shown = _notices(viewer, notices["flags"], found, notices["params"])
    return render_template(
        "cases/list.html", cases=_case_rows(found.items, viewer, category_names), **found.fields(),
        filters=filters, page_url=_page_url(filters) if found.pages > 1 else None, **shown,
        state_select=_filter_select("state", _state_options(), state),
        category_select=_filter_select("category", category_options, category),
        _=page_gettext(),  # the page's fixed words, remembered per language
    )


# --- registering a client and opening a case -------------------------------------


def _province_options() -> list[tuple[str, str]]:
    provinces = db.session.execute(select(Province).order_by(Province.name)).scalars()
    return [(p.code, f"{p.name} ({p.code})") for p in provinces]


@bp.route("/clients/new", methods=["GET", "POST"])
@login_required
def new_client():
    require_role(*CLIENT_REGISTRARS)
    context = {"province_options": _province_options()}
    if request.method == "GET":
        return render_template("cases/new_client.html", errors={},
                               form={"province_code": current_user.province_code or ""}, **context)
    data = blank_to_none(request.form.to_dict(), "nik", "phone", "guardian_name",
                         "guardian_relationship", "birth_date")
    data["consent_confirmed"] = request.form.get("consent_confirmed") == "1"
    # Someone already registered within reach (the same NIK, or name and birth date) is
    # offered first: continue with them, or say this is another person.
    # The same NIK is refused by the service (below), pointing to the client.
    matches = client_services.registration_matches(current_user, data)
    same_nik = any(m.nik and m.nik == data.get("nik") for m in matches)
    if matches and not same_nik and request.form.get("different_person") != "1":
        return render_template("cases/new_client.html", errors={}, form=request.form, matches=matches, **context)
    try:
        client = register_client(request_actor(), data)
    except (ValidationError, TooMany) as error:
        # A client already within the actor's reach is pointed to (a returning client).
        existing = (error.extra.get("current") or {}).get("client_id")
        return render_invalid("cases/new_client.html", error, status=error.status, matches=matches,
                              existing_client_id=existing, **context)
    flash(_("Client %(name)s is registered. Now open a case.", name=client.full_name), "success")
    return redirect(url_for("cases.open_case", client_id=client.id), code=303)


def _client_for_opening(client_id: int) -> Client:
    client = db.session.get(Client, client_id)
    if client is None or not access.can_see_client(current_user, client):
        raise NotFound(_l("No such client."))
    return client


def _team_options() -> list[tuple[str, str]]:
    if current_user.role != Role.SUPERVISOR:
        return []
    team = db.session.execute(
        select(User).where(User.supervisor_id == current_user.id, User.active.is_(True),
                           User.role == Role.FACILITATOR).order_by(User.full_name)
    ).scalars()
    return [(str(u.id), u.full_name) for u in team]


@bp.route("/clients/<int:client_id>/open-case", methods=["GET", "POST"])
@login_required
def open_case(client_id: int):
    require_role(*CLIENT_REGISTRARS)
    client = _client_for_opening(client_id)
    context = {"client": client, "category_options": _category_options(), "team_options": _team_options(),
               "open_case": client_services.open_case_of(client),
               "earlier_cases": client_services.cases_of(current_user, client)}
    if request.method == "GET":
        return render_template("cases/open_case.html", errors={}, form={}, **context)
    data = blank_to_none(request.form.to_dict(), "facilitator_id", "workflow")
    data["client_id"] = client.id
    try:
        case = case_services.open_case(request_actor(), data)
    except ValidationError as error:
        return render_invalid("cases/open_case.html", error, **context)
    flash(_("Case %(number)s is opened.", number=case.number), "success")
    return redirect(url_for("cases.show", case_id=case.id), code=303)


# --- the case page ----------------------------------------------------------------


def _progress(case: Case, locale: str) -> list[dict[str, Any]]:
    """The stages in order, then the outcome: done / current / to come."""
    definition = engine(case.workflow).definition
    order = definition.stage_order()
    stages = [s for s in order if not definition.states[s].final]
    finals = [s for s in order if definition.states[s].final]
    current = case.state
    is_final = definition.states[current].final
    current_index = len(stages) if is_final else stages.index(current) if current in stages else -1
    items = [
        {"state": s, "title": definition.states[s].title(locale),
         "status": "done" if i < current_index else "current" if i == current_index else "todo",
         "outcome": None}
        for i, s in enumerate(stages)
    ]
    if is_final:
        state = definition.states[current]
        items.append({"state": current, "title": state.title(locale), "status": "current",
                      "outcome": state.outcome or current})
    elif finals:
        items.append({"state": "outcome", "status": "todo", "outcome": None,
                      "title": " / ".join(definition.states[s].title(locale) for s in finals)})
    return items


def _goal_rows_from_plan(case: Case) -> list[dict[str, Any]]:
    goals = case.active_goals
    rows = [{"index": i, "id": g.id, "description": g.description,
             "target_date": g.target_date.isoformat() if g.target_date else "",
             "responsible_party": g.responsible_party, "blank": False}
            for i, g in enumerate(goals)]
    rows.append({"index": len(rows), "id": None, "description": "", "target_date": "",
                 "responsible_party": "", "blank": True})
    return rows


def _goal_rows_from_form() -> list[dict[str, Any]]:
    indexes = sorted({ascii_number(key.split("-")[1]) for key in request.form
                      if key.startswith("goals-") and ascii_number(key.split("-")[1]) is not None})
    rows = []
    for index in indexes:
        row = {name: request.form.get(f"goals-{index}-{name}", "")
               for name in ("id", "description", "target_date", "responsible_party", "remove")}
        row["index"] = index
        text = row["id"].strip()
        # An id that is not a number goes to the schema as it is, which names it (RowId);
        # it is not taken for a new goal.
        row["id"] = (ascii_number(text, max_digits=20) or text) if text else None
        row["blank"] = False
        rows.append(row)
    return rows


def _record_values(record: Any) -> dict[str, Any]:
    return {} if record is None else record.values()


def _case_lists(user: User, case: Case, present: frozenset[str] | None) -> dict[str, Any]:
    """The case's lists shown in panels of their own: read only those that have rows
    (read_case says which), each through its service (the viewer may see the case)."""
    def has(name: str) -> bool:
        return present is None or name in present

    return {
        "aftercare_period": aftercare.status_of(case) if has("aftercare") else None,
        "case_refs": referral_services.referrals_of(case) if has("referrals") else [],
        "visits": agenda_services.planned_visits_of(case) if has("planned_visits") else [],
        "action_points": supervision_services.action_points_of_case(case) if has("action_points") else [],
        "other_cases": ([c for c in client_services.cases_of(user, case.client) if c.id != case.id]
                        if has("other_cases") else []),
        "attachments": attachment_services.attachments_of(user, case) if has("attachments") else [],
    }


def _case_context(reading: case_services.CaseReading, *, form_name: str | None = None,
                  errors: dict | None = None, goal_rows: list | None = None) -> dict[str, Any]:
    user = current_user._get_current_object()
    case = reading.case
    definition = engine(case.workflow).definition
    is_facilitator = access.holds_case_role(user, case, Role.FACILITATOR)
    editable = set(definition.editable_records(case.state)) if is_facilitator else set()
    actions = case_services.available_actions(user, [case])[case.id]
    if "evaluation" in editable:  # the evaluation form is the one way to go on from there
        actions = [a for a in actions if a.trigger not in evaluation.FORM_TRIGGERS]
    active_goals = case.active_goals
    ratings = {r.goal_id: r for r in (case.evaluation.ratings if case.evaluation else [])}
    steps = reading.steps
    late = reading.lists is None or "late_arrivals" in reading.lists
    # The reader's language once for the page (each lookup goes through Flask-Babel's context).
    locale = locale_code()
    return {
        "_": page_gettext(),  # the page's fixed words, remembered per language
        "case": case,
        "locale": locale,
        "state_name": definition.states[case.state].title(locale),
        "progress": _progress(case, locale),
        "is_final": definition.states[case.state].final,
        "editable": editable,
        # Open, or in aftercare (which a case without an aftercare row cannot be).
        "can_log_step": is_facilitator and (not definition.states[case.state].final or (
            (reading.lists is None or "aftercare" in reading.lists) and case_services.accepts_steps(case))),
        "read_only": not is_facilitator,
        "actions": actions,
        "active_goals": active_goals,
        "ratings": ratings,
        "goal_rows": goal_rows if goal_rows is not None else _goal_rows_from_plan(case),
        "values": {
            record: (request.form if form_name == record else _record_values(getattr(case, record)))
            for record in ("assessment", "termination")
        },
        "form_name": form_name,
        "form": request.form if form_name else {},
        "errors": errors or {},
        "steps": steps,
        # Each step type's name once (a page shows many steps of a few types).
        "step_type_names": {code: labels.step_type(code) for code in {step.step_type for step in steps}},
        # When each step happened, in its own zone (as the `localtime` filter writes it).
        "step_times": {step.id: moment(step.occurred_at, step.occurred_timezone, locale) for step in steps},
        # Steps that reached the server long after the tablet made them (the supervisor's review).
        "late_steps": sync_health.late_step_ids(user, case, [step.id for step in steps]) if late else set(),
        "late_review_days": sync_health.review_days(),
        "step_count": reading.step_count,
        "older_steps": step_key_text(reading.older) if reading.older else None,
        "newest_steps": bool(request.args.get("before")),
        "pending_sign_off": case.pending_sign_off,
        # Who must act next, in words (feedback/_notes.html): worked out here, not in an include.
        "case_next_action": action_note(deadlines.next_action(case, user)),
        "goal_names": {g.id: g.description for g in (case.plan.goals if case.plan else [])},
    } | _case_lists(user, case, reading.lists)


def render_case(case_id: int, status: int = 200, **kwargs: Any):
    reading = case_services.read_case(request_actor(), case_id,
                                      before=parse_step_key(request.args.get("before")), lists=True,
                                      recorders=True)
    if reading.unread is not None:  # the menu's count came with the case
        navigation.known_count(notifications.unread_count, reading.unread)
    context = _case_context(reading, **kwargs)
    return render_template("cases/show.html", **context), status


@bp.route("/cases/<int:case_id>")
@login_required
def show(case_id: int):
    return render_case(case_id)


def _refused(case_id: int, error: ValidationError, form_name: str, **kwargs: Any):
    """The case page again with the refused form's messages next to its fields."""
    return render_case(case_id, status=422, form_name=form_name, errors=field_errors(error),
                        **kwargs)


def _save_stage_record(case_id: int, save: Callable, data: dict[str, Any], form_name: str, saved: str, *,
                       anchor: str = "stage-form", errors: Callable = field_errors, **form: Any):
    """Save a stage record from its form on the case page: refused, the page again with the
    messages next to the form's fields (`errors` names them as the form does); saved, back
    to the page at `anchor` with the message `saved`."""
    try:
        save(request_actor(), case_id, data, _expected_version())
    except ValidationError as error:
        return render_case(case_id, status=422, form_name=form_name, errors=errors(error), **form)
    flash(saved, "success")
    return redirect(url_for("cases.show", case_id=case_id, _anchor=anchor), code=303)


@bp.route("/cases/<int:case_id>/assessment", methods=["POST"])
@login_required
def save_assessment(case_id: int):
    return _save_stage_record(case_id, case_services.save_assessment,
                              blank_to_none(request.form.to_dict(), "risk_level"), "assessment",
                              _("The assessment is saved."))


def _goal_field(row: dict[str, Any], field: str) -> str:
    return f"goals-{row['index']}-{field}"


@bp.route("/cases/<int:case_id>/plan", methods=["POST"])
@login_required
def save_plan(case_id: int):
    rows = _goal_rows_from_form()
    kept = [row for row in rows if not row["remove"]
            and (row["id"] or row["description"].strip() or row["target_date"] or row["responsible_party"].strip())]
    goals = [{"id": row["id"], "description": row["description"],
              "target_date": row["target_date"] or None, "responsible_party": row["responsible_party"]}
             for row in kept]
    data = {"summary": request.form.get("summary", ""), "goals": goals}
    return _save_stage_record(case_id, case_services.save_plan, data, "plan", _("The intervention plan is saved."),
                              errors=lambda error: errors_by_row(error, "goals", kept, _goal_field),
                              goal_rows=kept or rows)


def ratings_from_form() -> list[dict[str, Any]]:
    """The goals' ratings as the evaluation form sends them (a goal left blank is left out)."""
    goal_ids = [ascii_number(key.split("-")[1], max_digits=20) for key in request.form
                if key.startswith("ratings-") and key.endswith("-goal")
                and ascii_number(key.split("-")[1], max_digits=20) is not None]
    ratings = []
    for goal_id in goal_ids:
        rating = request.form.get(f"ratings-{goal_id}-rating", "")
        notes = request.form.get(f"ratings-{goal_id}-notes", "")
        if rating or notes.strip():
            ratings.append({"goal_id": goal_id, "rating": rating, "notes": notes})
    return ratings


def rating_errors(error: ValidationError, ratings: list[dict[str, Any]]) -> dict[str, list]:
    """The service names ratings by their position in what was sent (or a goal by its id,
    `goals.<id>`); the form by the goal's fields."""
    def field_name(rating: dict[str, Any], field: str) -> str:
        return f"ratings-{rating['goal_id']}-{'rating' if field == 'goal_id' else field}"

    def goal_name(name: str) -> str:
        parts = name.split(".")
        if len(parts) == 2 and parts[0] == "goals" and ascii_number(parts[1], max_digits=20) is not None:
            return f"ratings-{parts[1]}-rating"
        return name

    return errors_by_row(error, "ratings", ratings, field_name, goal_name)


@bp.route("/cases/<int:case_id>/evaluation", methods=["POST"])
@login_required
def save_evaluation(case_id: int):
    ratings = ratings_from_form()
    data = {"summary": request.form.get("summary", ""), "ratings": ratings}
    return _save_stage_record(case_id, case_services.save_evaluation, data, "evaluation",
                              _("The evaluation is saved."), errors=lambda error: rating_errors(error, ratings))


@bp.route("/cases/<int:case_id>/termination", methods=["POST"])
@login_required
def save_termination(case_id: int):
    return _save_stage_record(
        case_id, case_services.save_termination_request, blank_to_none(request.form.to_dict(), "closure_reason"),
        "termination", _("The termination request is saved. Send it to your supervisor with “Request termination”."),
        anchor="actions")


@bp.route("/cases/<int:case_id>/actions/<trigger>", methods=["POST"])
@login_required
def fire(case_id: int, trigger: str):
    data = {"reason": request.form.get("reason") or None}
    try:
        case = case_services.fire_trigger(request_actor(), case_id, trigger, data, _expected_version())
    except ValidationError as error:
        return _refused(case_id, error, f"action-{trigger}")
    flash(_("Done: the case is now in “%(state)s”.", state=state_title(case)), "success")
    return redirect(url_for("cases.show", case_id=case_id), code=303)


# --- logging a step ---------------------------------------------------------------


def _step_context(case: Case) -> dict[str, Any]:
    goals = case.active_goals
    return {"case": case, "goal_options": [(str(g.id), g.description) for g in goals]}


@bp.route("/cases/<int:case_id>/steps/new", methods=["GET", "POST"])
@login_required
@facilitator_form("cases/log_step.html", _step_context, what="log step")
def log_step(case_id: int):
    """One quick screen: type, when (now, in the facilitator's zone), where, what, which goal."""
    data = blank_to_none(request.form.to_dict(), "goal_id", "location", "occurred_at")
    try:
        case_services.log_step(request_actor(), case_id, data, _expected_version())
    except ValidationError as error:
        case = case_services.get_case(current_user, case_id)
        return render_invalid("cases/log_step.html", error, **_step_context(case))
    flash(_("The step is logged."), "success")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="steps"), code=303)
