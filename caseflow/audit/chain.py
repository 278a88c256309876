"""Canonical serialisation and hashing of audit events.

An event's hash covers every field a reader relies on plus the previous event's hash,
so altering, removing, inserting or reordering events breaks a link somewhere.

What changed (before, after, context) may hold personal data, which the retention rules
must be able to erase without breaking the chain. So the hash covers a salted digest of
that payload, not the payload itself: erasing the payload and its salt leaves the digest,
and with it every link, verifiable — and the salt keeps the digest from being guessed
back into a NIK or a name.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

HASHED_FIELDS = (
    "chain",
    "seq",
    "prev_hash",
    "occurred_at",
    "actor_id",
    "actor_role",
    "origin_ip",
    "user_agent",
    "action",
    "case_id",
    "payload_digest",
)
PAYLOAD_FIELDS = ("before", "after", "context")


def genesis_hash(chain: str) -> str:
    """The 'previous hash' of a chain's first event: bound to the chain's name, so an
    event cannot be moved to the start of another chain unnoticed."""
    return hashlib.sha256(f"caseflow-genesis:{chain}".encode()).hexdigest()


def jsonable(value: Any) -> Any:
    """Plain JSON values only, so what is hashed is exactly what is stored and read back."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # Floats do not round-trip identically everywhere; keep them as text.
        return repr(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=canonical_json) if isinstance(value, set | frozenset) else items
    return str(value)


def format_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    value = value.astimezone(UTC)
    if value.year < 1000:  # strftime writes such a year without its leading zeros
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as that strftime, written a third faster.
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# Made once: json.dumps with options makes a new encoder at every call (a third of the cost
# of writing an event's few fields). An encoder keeps no state between calls.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def event_payload(fields: dict[str, Any]) -> dict[str, Any]:
    payload = {name: fields.get(name) for name in HASHED_FIELDS}
    occurred = payload["occurred_at"]
    if isinstance(occurred, datetime):
        payload["occurred_at"] = format_time(occurred)
    return payload


def compute_event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(event_payload(fields)).encode()).hexdigest()


def compute_payload_digest(fields: dict[str, Any], salt: str) -> str:
    payload = {name: fields.get(name) for name in PAYLOAD_FIELDS}
    return hashlib.sha256((salt + canonical_json(payload)).encode()).hexdigest()


def seal_event(fields: dict[str, Any]) -> dict[str, Any]:
    """Add salt, payload digest and hash to a new event's fields."""
    fields["payload_salt"] = secrets.token_hex(16)
    fields["payload_digest"] = compute_payload_digest(fields, fields["payload_salt"])
    fields["hash"] = compute_event_hash(fields)
    return fields


def checkpoint_digest(
    prev_digest: str, created_at: datetime, entries: list[tuple[str, int, str]]
) -> str:
    body = {
        "prev_digest": prev_digest,
        "created_at": format_time(created_at),
        "heads": [[chain, seq, digest] for chain, seq, digest in sorted(entries)],
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


CHECKPOINT_GENESIS = hashlib.sha256(b"caseflow-checkpoint-genesis").hexdigest()
