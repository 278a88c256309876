"""The navigation bar: each blueprint registers its entries for the roles that use them.

Every HTML page shows the bar, so what it needs is worked out once: the entries of a role
once per process, their links and labels once per application, language and script root
(all fixed by the code: blueprints register them at import). Only the numbers beside an
entry (unread notifications) are read on each request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from flask import Flask, current_app, g, request
from flask_login import current_user
from markupsafe import Markup

from .formatting import locale_code, safe_url_for


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy translated string
    roles: tuple[str, ...]
    order: int = 50
    menu: str = "main"  # "main": the menu bar; "user": the menu under the person's name (rarely used)


class NavLink(NamedTuple):
    """An entry as the bar shows it: its link and its label in the reader's language."""

    endpoint: str
    href: str
    label: str


_ITEMS: dict[str, NavItem] = {}
# A number shown beside an entry (unread notifications): endpoint → function of the user.
_COUNTS: dict[str, Callable[[Any], int]] = {}
# (role, menu) → the role's entries in order; emptied whenever an entry is registered.
_BY_ROLE: dict[tuple[str, str], list[NavItem]] = {}


def register(endpoint: str, label: Any, roles: tuple[str, ...] | list[str], order: int = 50,
             menu: str = "main") -> None:
    _ITEMS[endpoint] = NavItem(endpoint, label, tuple(roles), order, menu)
    _BY_ROLE.clear()


def register_count(endpoint: str, count: Callable[[Any], int]) -> None:
    _COUNTS[endpoint] = count


def known_count(count: Callable[[Any], int], value: int) -> None:
    """What `count` (a registered count) gives for the signed-in user, already read by the
    page itself in this request: the menu then does not ask again."""
    g.setdefault("_nav_counts", {})[count] = value


def counts_for(user, items: list[NavItem]) -> dict[str, int]:
    known = g.get("_nav_counts") or {}
    found = {}
    for item in items:
        count = _COUNTS.get(item.endpoint)
        if count is not None:
            found[item.endpoint] = known[count] if count in known else count(user)
    return found


def items_for(user, menu: str = "main") -> list[NavItem]:
    """The entries `user`'s role sees, in order (a shared list: do not change it)."""
    if not getattr(user, "is_authenticated", False):
        return []
    key = (user.role, menu)
    items = _BY_ROLE.get(key)
    if items is None:
        items = _BY_ROLE[key] = sorted((i for i in _ITEMS.values() if user.role in i.roles and i.menu == menu),
                                       key=lambda i: (i.order, i.endpoint))
    return items


def links_for(items: list[NavItem]) -> list[NavLink]:
    """The entries that have a page in this application (a blueprint may not be installed),
    with their links and labels: worked out once per application, language and script root."""
    if not items:
        return []
    cache = current_app.extensions.setdefault("caseflow.nav_links", {})
    key = (tuple(i.endpoint for i in items), locale_code(), request.script_root)
    links = cache.get(key)
    if links is None:
        links = cache[key] = [NavLink(i.endpoint, href, str(i.label)) for i in items
                              if (href := safe_url_for(i.endpoint)) is not None]
    return links


def current_endpoint(links: list[NavLink]) -> str | None:
    """The entry to mark as current: the page itself, else the first entry of the same
    blueprint (a case page belongs to "My cases")."""
    endpoint = request.endpoint or ""
    for link in links:
        if link.endpoint == endpoint:
            return link.endpoint
    area = endpoint.split(".", 1)[0] + "."
    return next((link.endpoint for link in links if link.endpoint.startswith(area)), None)


# Made menus kept per application: (id of the links, current entry, numbers) → (links, HTML).
# The numbers (unread notifications) vary by person: the oldest go when there are this many.
_KEPT_MENUS = 1024


def nav_entries(links: list[NavLink], current: str | None, counts: dict[str, int]) -> Markup:
    """The menu's entries as HTML (templates/_nav_entries.html), made once per set of links
    (one per role, language and script root: `links_for`), current entry and numbers: every
    page shows the menu, and writing its dozen entries cost some 30 µs a page."""
    menus = current_app.extensions.setdefault("caseflow.nav_entries", {})
    key = (id(links), current, tuple(counts.items()))
    made = menus.get(key)
    if made is None or made[0] is not links:
        if len(menus) >= _KEPT_MENUS:
            menus.clear()
        made = menus[key] = (links, Markup(current_app.jinja_env.get_template("_nav_entries.html").render(
            links=links, current=current, nav_counts=counts)))
    return made[1]


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict:
        user = current_user._get_current_object()  # one look-up instead of one per use
        items, user_items = items_for(user), items_for(user, "user")
        return {"nav_items": items, "user_menu_items": user_items,
                "nav_counts": counts_for(user, items + user_items),
                "nav_links": lambda: links_for(items), "user_menu_links": lambda: links_for(user_items),
                "nav_current": current_endpoint, "nav_entries": nav_entries}
