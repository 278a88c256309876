"""Who is acting, and from where: every service call receives one Actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..models import User


@dataclass(frozen=True)
class Actor:
    user: User | None
    origin_ip: str | None = None
    user_agent: str | None = None
    via: str = "web"  # web / api / cli / system
    # When the work was done on a tablet that was offline, as the tablet said.
    device_time: datetime | None = None
    # The personal access token the request came with: every audit event written for it
    # names the token (the evidence of its use, services/api_tokens.py).
    token_id: int | None = None

    @classmethod
    def from_request(cls, request: Any, user: User | None, *, via: str = "web",
                     device_time: datetime | None = None, token_id: int | None = None) -> Actor:
        """Who acts in an HTTP request: its user, address and browser or app (the one place
        pages, the API and the outbox build their actor)."""
        return cls(user=user, origin_ip=request.remote_addr, user_agent=request.headers.get("User-Agent"),
                   via=via, device_time=device_time, token_id=token_id)

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def role(self) -> str | None:
        return self.user.role if self.user else None

    @classmethod
    def system(cls) -> Actor:
        return cls(user=None, via="system")

    @classmethod
    def cli(cls, user: User | None = None) -> Actor:
        return cls(user=user, via="cli")
