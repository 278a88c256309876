"""The navigation bar: each blueprint registers its entries for the roles that use them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy translated string
    roles: tuple[str, ...]
    order: int = 50
    menu: str = "main"  # "main": the menu bar; "user": the menu under the person's name (rarely used)


_ITEMS: dict[str, NavItem] = {}
# A number shown beside an entry (unread notifications): endpoint → function of the user.
_COUNTS: dict[str, Callable[[Any], int]] = {}


def register(endpoint: str, label: Any, roles: tuple[str, ...] | list[str], order: int = 50,
             menu: str = "main") -> None:
    _ITEMS[endpoint] = NavItem(endpoint, label, tuple(roles), order, menu)


def register_count(endpoint: str, count: Callable[[Any], int]) -> None:
    _COUNTS[endpoint] = count


def counts_for(user, items: list[NavItem]) -> dict[str, int]:
    return {item.endpoint: _COUNTS[item.endpoint](user) for item in items if item.endpoint in _COUNTS}


def items_for(user, menu: str = "main") -> list[NavItem]:
    if not getattr(user, "is_authenticated", False):
        return []
    return sorted((i for i in _ITEMS.values() if user.role in i.roles and i.menu == menu),
                  key=lambda i: (i.order, i.endpoint))


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict:
        items, user_items = items_for(current_user), items_for(current_user, "user")
        return {"nav_items": items, "user_menu_items": user_items,
                "nav_counts": counts_for(current_user, items + user_items)}
