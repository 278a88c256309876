"""What the pages share: refusing a role that does not use a page, a form a case's
facilitator fills in, blank form fields, a list's search box, and one page of a list."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, func, or_, select

from ..extensions import db
from ..models import Case, Role
from ..prepared import Prepared
from ..schemas import page_number
from ..services import access
from ..services import cases as case_services
from .auth import request_actor


def require_role(*roles: str) -> None:
    """Refuse (403) a signed-in user whose role does not use this page; the error page
    records the refusal in their audit chain (caseflow/web/errors.py)."""
    if current_user.role not in roles:
        abort(403)


def facilitator_form(template: str, context: Callable[[Case], dict[str, Any]], what: str) -> Callable:
    """A form on one case (`case_id` in the address) that only the case's facilitator fills
    in: anyone else is refused (403); a GET shows the empty form, with `context(case)`, and
    records the view on the case as `what`; the decorated view handles what is sent."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def form_of_case(case_id: int):
            case = case_services.get_case(current_user, case_id)
            if not access.holds_case_role(current_user, case, Role.FACILITATOR):
                abort(403)
            if request.method == "GET":
                case_services.record_case_view(request_actor(), case_id, what=what)
                return render_template(template, errors={}, form={}, **context(case))
            return view(case_id)
        return form_of_case
    return decorate


def blank_to_none(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    """`data` with each of `keys` left blank in the form made None (the schemas' "not given")."""
    for key in keys:
        if isinstance(data.get(key), str) and not data[key].strip():
            data[key] = None
    return data


def search_text() -> str:
    """What the list's search box (?q=) asks for, trimmed to at most 100 characters."""
    return (request.args.get("q") or "").strip()[:100]


def search_pattern(text: str) -> str:
    """The LIKE pattern that finds `text` inside a column, ignoring case."""
    return f"%{text.lower()}%"


def containing(text: str | BindParameter, *columns: Any) -> ColumnElement[bool]:
    """Any of `columns` contains `text`, ignoring case; or, given a bound parameter, the
    search_pattern it will hold (a statement built once)."""
    pattern = search_pattern(text) if isinstance(text, str) else text
    return or_(*(func.lower(column).like(pattern) for column in columns))


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, how many rows the whole list has, which page, of how
    many (templates/macros/pager.html links the pages)."""

    items: list[Any]
    total: int
    page: int
    pages: int

    def fields(self) -> dict[str, int]:
        return {"total": self.total, "page": self.page, "pages": self.pages}


def paginate(statement: Select, size: int) -> Page:
    """The page of `statement` (already ordered) that ?page= asks for, `size` rows a page: a
    count and one query of `size` rows. A page past the end is the last page."""
    total = db.session.execute(select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()
    pages = max(math.ceil(total / size), 1)
    page = min(page_number(request.args.get("page")), pages)
    items = list(db.session.execute(statement.limit(size).offset((page - 1) * size)).scalars())
    return Page(items, total, page, pages)


def paginate_counted(statement: Select, size: int, params: dict[str, Any] | None = None, *,
                     built_once: bool = False, paged: Select | None = None) -> Page:
    """`paginate` in one statement: `statement` (ordered) selects rows whose last column
    counts the whole list (`func.count().over()`), run with `params`. A page past the end,
    which finds no row to read the count from, costs a count and the last page.
    `built_once`: the statement is kept for the process, and so is its page (the limit and
    offset bound parameters), sent prepared (prepared.Prepared.rows); it selects values,
    not objects, read as tuples on the session's connection, without the ORM's handling of
    results. `paged`: the page is read by this statement instead, kept
    for the process too: a page of `statement` (bound page_limit and page_offset) joined
    to more of its rows' values, its last column still the count."""
    def rows_of(page: int) -> list[Any]:
        if built_once:
            return _prepared(paged if paged is not None else _paged(statement)).rows(db.session.connection(), {
                **(params or {}), "page_limit": size, "page_offset": (page - 1) * size})
        return db.session.execute(statement.limit(size).offset((page - 1) * size), params).all()

    page = page_number(request.args.get("page"))
    rows = rows_of(page)
    if rows:
        total = rows[0][-1]
    elif page == 1:
        total = 0
    else:
        total = db.session.execute(select(func.count()).select_from(statement.order_by(None).subquery()),
                                   params).scalar_one()
        page = min(page, max(math.ceil(total / size), 1))
        rows = rows_of(page) if total else []
    return Page(rows, total, page, max(math.ceil(total / size), 1))


@lru_cache(maxsize=256)
def _prepared(statement: Select) -> Prepared:
    """A statement kept for the process, compiled once for sending prepared."""
    return Prepared(statement)


@lru_cache(maxsize=256)
def _paged(statement: Select) -> Select:
    """A statement kept for the process, limited and offset by bound parameters."""
    return statement.limit(bindparam("page_limit")).offset(bindparam("page_offset"))


def url_maker(endpoint: str, key: str) -> Callable[[int], str]:
    """url_for(endpoint, key=n) for the many rows of a list, built once: a row's link is
    then the same text with its number in the place of the marker."""
    marker = 987654321
    head, tail = url_for(endpoint, **{key: marker}).rsplit(str(marker), 1)
    return lambda value: f"{head}{int(value)}{tail}"
