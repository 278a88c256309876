"""Who is acting, and from where: every service call receives one Actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..models import User


@dataclass(frozen=True)
class Actor:
    user: User | None
    origin_ip: str | None = None
    user_agent: str | None = None
    via: str = "web"  # web / api / cli / system
    # When the work was done on a tablet that was offline, as the tablet said.
    device_time: datetime | None = None

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
