"""Evidence for auditors: verifiable packages for one case or one facilitator, and who
has seen a client's data.

A package is built from what the database holds right now, after sealing the current
chain heads with a signed checkpoint, so everything in it is vouched for by a signature
(except what happens between the seal and the read, reported as not yet sealed). The
export itself is an audit event on the auditor's own chain.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..audit import external
from ..audit.chain import format_time
from ..audit.package import (
    PackageContent,
    UnreadablePackage,
    build_package,
    sealed_checkpoints,
    verify_package,
)
from ..database import utcnow, write_transaction
from ..errors import NotAllowed, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import AuditCheckpoint, AuditCheckpointEntry, AuditEvent, Case, Client, Role, User
from ..schemas import is_plausible_day
from . import access
from .audit import (
    append_event,
    case_chain,
    create_checkpoint,
    event_dicts,
    public_key_pem,
    signing_key,
    user_chain,
)
from .context import Actor

# What counts as someone seeing a client's data.
SEEN_ACTIONS = ("case.viewed", "client.data_exported", "evidence.exported")


@dataclass(frozen=True)
class ExportedPackage:
    filename: str
    data: bytes
    sha256: str
    events: int
    chains: int


class PackageRefused(Exception):
    """An evidence package that cannot vouch for anything: unreadable, altered, or not signed
    with this server's key."""


def package_evidence(path: str | Path) -> external.ExternalRecord:
    """The newest checkpoint of an evidence package exported earlier, as a record kept
    outside the database: the database must still hold it (audit.external). Only a package
    that verifies against this server's key counts."""
    try:
        report = verify_package(str(path), public_key_pem())
        checkpoints = sealed_checkpoints(str(path))
    except UnreadablePackage as exc:
        raise PackageRefused(f"{path}: {exc}") from None
    if not report.ok:
        raise PackageRefused(f"{path}: the package does not verify ({report.problems[0]}); "
                             "check it with `caseflow audit verify-package`")
    newest = external.package_checkpoint(checkpoints, f"evidence package {Path(path).name}")
    return external.ExternalRecord(checkpoints=[newest] if newest else [])


def _require_auditor(actor: Actor) -> User:
    user = actor.user
    if user is None or user.role != Role.AUDITOR or not user.is_active:
        raise NotAllowed(_l("Only an auditor may export evidence."))
    return user


def export_case_package(actor: Actor, case_id: int, *, seal: bool = True) -> ExportedPackage:
    """An auditor whose scope covers the case exports its whole audit chain as a
    verifiable package."""
    user = _require_auditor(actor)
    case = access.require_view(user, db.session.get(Case, case_id))
    if seal:
        create_checkpoint(actor)
    chain = case_chain(case.id)
    scope = {"case_id": case.id, "case_number": case.number, "province_code": case.province_code}
    package = _build("case", scope, [chain], user, extra_people={case.facilitator_id})
    with write_transaction():
        append_event(chain=user_chain(user.id), action="evidence.exported", actor=actor, case_id=case.id,
                     context={"kind": "case", "case_number": case.number, "sha256": package.sha256,
                              "events": package.events})
    return package


def export_facilitator_package(actor: Actor, facilitator_id: int, start: date, end: date, *,
                               seal: bool = True) -> ExportedPackage:
    """Everything a facilitator did from `start` to `end` (whole days in their own time
    zone), with the full chains of the cases involved so every link can be checked. Cases
    outside the auditor's scope are left out (and counted in the package's scope)."""
    user = _require_auditor(actor)
    facilitator = db.session.get(User, facilitator_id)
    if facilitator is None or facilitator.role != Role.FACILITATOR or not _in_scope(user, facilitator):
        raise NotFound(_l("No such facilitator."))
    for name, day in (("from", start), ("until", end)):
        if not is_plausible_day(day):
            raise ValidationError(_l("Some fields need attention."),
                                  fields={name: [_l("Use a date between 1900 and 2100.")]})
    if end < start:
        raise ValidationError(_l("The period ends before it starts."),
                              fields={"until": [_l("Choose a date on or after the start.")]})
    if (end - start).days > 366 * 3:
        raise ValidationError(_l("Choose a period of at most three years."),
                              fields={"until": [_l("Choose a period of at most three years.")]})
    zone = ZoneInfo(facilitator.timezone)
    period_start = datetime.combine(start, time.min, zone)
    period_end = datetime.combine(end + timedelta(days=1), time.min, zone)
    if seal:
        create_checkpoint(actor)
    touched = db.session.execute(
        select(AuditEvent.chain, AuditEvent.case_id).where(
            AuditEvent.actor_id == facilitator.id,
            AuditEvent.occurred_at >= period_start, AuditEvent.occurred_at < period_end,
        ).distinct()
    ).all()
    case_ids = sorted({row.case_id for row in touched if row.chain.startswith("case:")})
    visible = set(db.session.execute(
        access.visible_cases(user, select(Case.id).where(Case.id.in_(case_ids)))
    ).scalars()) if case_ids else set()
    chains = [case_chain(case_id) for case_id in case_ids if case_id in visible]
    own_chain = user_chain(facilitator.id)
    if any(row.chain == own_chain for row in touched):
        chains.append(own_chain)
    scope = {
        "facilitator_id": facilitator.id,
        "facilitator_username": facilitator.username,
        "from": format_time(period_start),
        "until": format_time(period_end),
        "cases": len(visible),
        "cases_outside_scope_left_out": len(case_ids) - len(visible),
    }
    start_text, end_text = scope["from"], scope["until"]

    def in_scope(event: dict[str, Any]) -> bool:
        occurred = format_time(event["occurred_at"])
        return event["actor_id"] == facilitator.id and start_text <= occurred < end_text

    package = _build("facilitator", scope, sorted(chains), user, extra_people={facilitator.id},
                     in_scope=in_scope)
    with write_transaction():
        append_event(chain=user_chain(user.id), action="evidence.exported", actor=actor,
                     context={"kind": "facilitator", "facilitator_id": facilitator.id,
                              "from": start.isoformat(), "until": end.isoformat(),
                              "sha256": package.sha256, "events": package.events})
    return package


def _in_scope(auditor: User, person: User) -> bool:
    scope = auditor.auditor_scope_province_code
    return scope is None or person.province_code == scope


def _build(kind: str, scope: dict[str, Any], chains: list[str], auditor: User, *,
           extra_people: set[int], in_scope=None) -> ExportedPackage:
    # Checkpoints first, events after: every head a checkpoint read here sealed already
    # exists when the events are read, even if more are appended meanwhile.
    checkpoints = _checkpoints_sealing(chains)
    events: list[dict[str, Any]] = []
    for chunk in _chunks(chains, 500):
        events.extend(event_dicts(AuditEvent.chain.in_(chunk)))
    events.sort(key=lambda e: (e["chain"], e["seq"]))
    people_ids = {e["actor_id"] for e in events if e["actor_id"] is not None} | extra_people
    people = [
        {"id": u.id, "username": u.username, "full_name": u.full_name, "role": u.role,
         "province_code": u.province_code}
        for u in db.session.execute(select(User).where(User.id.in_(people_ids))).scalars()
    ]
    now = utcnow()
    content = PackageContent(
        kind=kind, scope=scope, created_at=now,
        created_by={"id": auditor.id, "username": auditor.username, "role": auditor.role},
        events=events, people=people, checkpoints=checkpoints, public_key_pem=public_key_pem(),
        in_scope=in_scope,
    )
    data = build_package(content, signing_key().sign)
    db.session.rollback()
    subject = scope.get("case_number") or scope.get("facilitator_username")
    filename = f"caseflow-evidence-{kind}-{subject}-{now:%Y%m%dT%H%M%SZ}.zip".replace("/", "-")
    return ExportedPackage(filename=filename, data=data, sha256=hashlib.sha256(data).hexdigest(),
                           events=len(events), chains=len({e["chain"] for e in events}))


def _chunks(items: list, size: int):
    for index in range(0, len(items), size):
        yield items[index:index + size]


def _checkpoints_sealing(chains: list[str]) -> list[dict[str, Any]]:
    """Every checkpoint that sealed one of `chains`, with all its entries (the digest,
    and so the signature, covers them all)."""
    ids: set[int] = set()
    for chunk in _chunks(chains, 500):
        ids.update(db.session.execute(
            select(AuditCheckpointEntry.checkpoint_id).where(AuditCheckpointEntry.chain.in_(chunk)).distinct()
        ).scalars())
    result = []
    for chunk in _chunks(sorted(ids), 500):
        entries: dict[int, list[tuple[str, int, str]]] = {}
        for entry in db.session.execute(
            select(AuditCheckpointEntry).where(AuditCheckpointEntry.checkpoint_id.in_(chunk))
        ).scalars():
            entries.setdefault(entry.checkpoint_id, []).append((entry.chain, entry.seq, entry.hash))
        for checkpoint in db.session.execute(
            select(AuditCheckpoint).where(AuditCheckpoint.id.in_(chunk)).order_by(AuditCheckpoint.id)
        ).scalars():
            result.append({
                "id": checkpoint.id, "created_at": checkpoint.created_at,
                "prev_digest": checkpoint.prev_digest, "digest": checkpoint.digest,
                "signature": checkpoint.signature, "public_key": checkpoint.public_key,
                "entries": entries.get(checkpoint.id, []),
            })
    return result


# --- who has seen a client's data -----------------------------------------------------


@dataclass(frozen=True)
class Sighting:
    occurred_at: datetime
    actor_id: int | None
    actor_name: str | None
    actor_username: str | None
    actor_role: str | None
    action: str
    case_number: str
    page: str | None
    origin_ip: str | None
    via: str | None


def client_viewers(actor: Actor, client_id: int) -> tuple[Client, list[Sighting]]:
    """Every recorded read of a client's cases (opened, exported), newest first, for an
    auditor whose scope covers at least one of them; cases outside the scope are left out."""
    user = actor.user
    if user is None or user.role != Role.AUDITOR or not user.is_active:
        raise NotAllowed(_l("Only an auditor may see who has seen a client's data."))
    client = db.session.get(Client, client_id)
    if client is None:
        raise NotFound(_l("No such client."))
    cases = {
        case.id: case for case in db.session.execute(
            access.visible_cases(user, select(Case).where(Case.client_id == client.id))
        ).scalars()
    }
    if not cases:
        raise NotFound(_l("No such client."))
    names = {}
    rows = db.session.execute(
        select(AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.actor_role, AuditEvent.action,
               AuditEvent.case_id, AuditEvent.context, AuditEvent.origin_ip)
        .where(AuditEvent.case_id.in_(list(cases)), AuditEvent.action.in_(SEEN_ACTIONS))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    ).all()
    actor_ids = {row.actor_id for row in rows if row.actor_id is not None}
    if actor_ids:
        names = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(actor_ids))).scalars()}
    sightings = []
    for row in rows:
        person = names.get(row.actor_id)
        context = row.context or {}
        sightings.append(Sighting(
            occurred_at=row.occurred_at, actor_id=row.actor_id,
            actor_name=person.full_name if person else None,
            actor_username=person.username if person else None,
            actor_role=row.actor_role, action=row.action, case_number=cases[row.case_id].number,
            page=context.get("page") or context.get("kind"), origin_ip=row.origin_ip,
            via=context.get("via"),
        ))
    return client, sightings
