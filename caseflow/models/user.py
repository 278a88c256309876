from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..security.fields import EncryptedText
from .reference import Province, province_zone


class Role(enum.StrEnum):
    FACILITATOR = "facilitator"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    PROGRAMME_MANAGER = "programme_manager"
    ADMIN = "admin"


class EmploymentStatus(enum.StrEnum):
    PPPK = "pppk"
    ASN = "asn"
    VOLUNTEER = "volunteer"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(5), default="id")
    # Where the user works; decides the time zone their pages show.
    province_code: Mapped[str | None] = mapped_column(ForeignKey("provinces.code"))
    # Facilitator profile.
    nip_pppk: Mapped[str | None] = mapped_column(String(32), unique=True)
    employment_status: Mapped[str | None] = mapped_column(String(16))
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Auditor scope: one province, or national when empty.
    auditor_scope_province_code: Mapped[str | None] = mapped_column(ForeignKey("provinces.code"))
    # Bumped on logout, deactivation and password change: every older session ends.
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    # The key (urlsafe base64, 32 bytes) that seals this person's unsent work on a tablet:
    # given to the tablet only during a live session of theirs, so once the session ends
    # what waits there cannot be read until they sign in again.
    offline_key: Mapped[str | None] = mapped_column(EncryptedText("users.offline_key"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    province: Mapped[Province | None] = relationship(foreign_keys=[province_code])
    supervisor: Mapped[User | None] = relationship(remote_side=[id], foreign_keys=[supervisor_id])
    auditor_scope_province: Mapped[Province | None] = relationship(
        foreign_keys=[auditor_scope_province_code]
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return bool(self.active)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_generation}"

    @property
    def timezone(self) -> str:
        # Read once per process (reference data), not with the user on every request.
        return province_zone(self.province_code) if self.province_code else "Asia/Jakarta"

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


# Roles whose accounts see other people's work: creating one, widening what it sees or giving
# it facilitators takes two administrators (separation of duties, see SECURITY.md).
PRIVILEGED_ROLES = (Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN)


class AccountChangeKind(enum.StrEnum):
    CREATE = "create"  # a new privileged account, usable once confirmed
    REACTIVATE = "reactivate"  # a deactivated privileged account back in use
    DETAILS = "details"  # a new supervisor or coordinator, or an auditor's scope
    TEAM = "team"  # facilitators put under a supervisor
    DELEGATION = "delegation"  # a supervisor's team given to an acting supervisor for a while


class AccountChangeStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    # Made on the server's command line, which needs no second administrator.
    APPLIED = "applied"


class AccountChange(db.Model):
    """A privileged change to an account: requested by one administrator and without effect
    until a different administrator (or the server's command line) confirms it. Each one,
    whatever became of it, is listed for auditors."""

    __tablename__ = "account_changes"
    __table_args__ = (
        Index("ix_account_changes_status_target", "status", "target_user_id"),
        Index("ix_account_changes_requested_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The account changed (for a team: the supervisor).
    target_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # What is asked: for details the new values, for a team the facilitators added.
    payload: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_via: Mapped[str] = mapped_column(String(8))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_via: Mapped[str | None] = mapped_column(String(8))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))

    target: Mapped[User] = relationship(foreign_keys=[target_user_id])
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
