"""Walk audit chains and checkpoints and name the first thing that does not hold."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .chain import (
    CHECKPOINT_GENESIS,
    checkpoint_digest,
    compute_event_hash,
    compute_payload_digest,
    genesis_hash,
)


@dataclass
class Problem:
    kind: str  # altered / removed / inserted / reordered / inserted_or_reordered / truncated / checkpoint
    chain: str | None
    seq: int | None
    event_id: int | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class VerificationReport:
    chains: int = 0
    events: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


def verify_chain_events(
    events: Iterable[dict[str, Any]], report: VerificationReport
) -> dict[str, tuple[int, str]]:
    """Check events sorted by (chain, seq); return each chain's last (seq, hash).

    Only the first problem of each chain is reported: after a break every later link is
    suspect, and the first one is what an auditor needs to find.
    """
    heads: dict[str, tuple[int, str]] = {}
    current_chain = None
    expected_seq = 1
    prev_hashes: list[str] = []
    chain_broken = False
    for event in events:
        chain = event["chain"]
        if chain != current_chain:
            current_chain = chain
            expected_seq = 1
            prev_hashes = [genesis_hash(chain)]
            chain_broken = False
            report.chains += 1
        report.events += 1
        seq = event["seq"]
        if not chain_broken:
            problem = _check_link(event, expected_seq, prev_hashes)
            if problem:
                report.problems.append(problem)
                chain_broken = True
        expected_seq = seq + 1
        prev_hashes = [event["hash"], *prev_hashes[:1]]
        heads[chain] = (seq, event["hash"])
    return heads


def _check_link(event: dict[str, Any], expected_seq: int, prev_hashes: list[str]) -> Problem | None:
    """prev_hashes: the hash of the event before, then of the one before that."""
    chain, seq, event_id = event["chain"], event["seq"], event.get("id")
    label = f"event {event_id} ({chain} #{seq}, {event['action']})"
    salt = event.get("payload_salt")
    if salt is not None and compute_payload_digest(event, salt) != event.get("payload_digest"):
        return Problem(
            "altered", chain, seq, event_id,
            f"{label}: what it records (before/after) does not match its hash — the event was altered",
        )
    if compute_event_hash(event) != event["hash"]:
        written_as = _seq_it_was_written_with(event)
        if written_as == seq - 1:
            return Problem(
                "inserted", chain, seq - 1, event_id,
                f"{label}: was written as #{written_as} — an event was inserted before it",
            )
        if written_as is not None:
            return Problem(
                "reordered", chain, seq, event_id,
                f"{label}: was written as #{written_as} — the events were reordered",
            )
        return Problem(
            "altered", chain, seq, event_id,
            f"{label}: its content does not match its hash — the event was altered",
        )
    if seq > expected_seq:
        missing = f"#{expected_seq}" if seq == expected_seq + 1 else f"#{expected_seq}–#{seq - 1}"
        return Problem(
            "removed", chain, seq, event_id,
            f"{chain}: event {missing} is missing before {label} — an event was removed",
        )
    if event["prev_hash"] != prev_hashes[0]:
        if len(prev_hashes) > 1 and event["prev_hash"] == prev_hashes[1]:
            return Problem(
                "inserted", chain, seq - 1, event_id,
                f"{chain} #{seq - 1}: this event was inserted — {label} links to the event before it",
            )
        return Problem(
            "inserted_or_reordered", chain, seq, event_id,
            f"{label}: does not link to the event before it — an event before it was removed, "
            "replaced or inserted, or the events were reordered",
        )
    return None


def _seq_it_was_written_with(event: dict[str, Any], window: int = 5) -> int | None:
    """An event moved to another position still hashes correctly under its original number."""
    for delta in range(-window, window + 1):
        if delta == 0 or event["seq"] + delta < 1:
            continue
        if compute_event_hash({**event, "seq": event["seq"] + delta}) == event["hash"]:
            return event["seq"] + delta
    return None


def verify_heads(
    event_heads: dict[str, tuple[int, str]],
    recorded_heads: Iterable[tuple[str, int, str]],
    report: VerificationReport,
) -> None:
    """The heads table must agree with the last event of every chain."""
    seen = set()
    for chain, seq, digest in recorded_heads:
        seen.add(chain)
        actual = event_heads.get(chain)
        if actual is None:
            report.problems.append(Problem(
                "truncated", chain, seq, None,
                f"{chain}: the chain should end at #{seq} but has no events — events were removed",
            ))
        elif actual[0] < seq:
            report.problems.append(Problem(
                "truncated", chain, seq, None,
                f"{chain}: the chain should end at #{seq} but ends at #{actual[0]} — "
                "the last events were removed",
            ))
        elif actual != (seq, digest):
            report.problems.append(Problem(
                "inserted", chain, actual[0], None,
                f"{chain}: the chain ends at #{actual[0]} but its recorded head is #{seq} — "
                "events were added outside the application",
            ))
    for chain in sorted(set(event_heads) - seen):
        report.problems.append(Problem(
            "inserted", chain, None, None,
            f"{chain}: events exist for a chain the application never started — "
            "events were inserted outside the application",
        ))


@dataclass
class CheckpointRecord:
    id: int
    created_at: Any
    prev_digest: str
    digest: str
    signature: str
    public_key: str
    entries: list[tuple[str, int, str]]


def verify_checkpoints(
    checkpoints: Iterable[CheckpointRecord],
    event_lookup: Callable[[str, int], str | None],
    report: VerificationReport,
    trusted_public_key: str | None = None,
) -> None:
    """Each checkpoint is signed, links to the one before, and every head it sealed still
    exists with the same hash."""
    expected_prev = CHECKPOINT_GENESIS
    for checkpoint in checkpoints:
        report.checkpoints += 1
        label = f"checkpoint {checkpoint.id}"
        if checkpoint.prev_digest != expected_prev:
            report.problems.append(Problem(
                "checkpoint", None, None, None,
                f"{label}: does not link to the checkpoint before it — a checkpoint was removed or altered",
            ))
        recomputed = checkpoint_digest(checkpoint.prev_digest, checkpoint.created_at, checkpoint.entries)
        if recomputed != checkpoint.digest:
            report.problems.append(Problem(
                "checkpoint", None, None, None,
                f"{label}: its sealed heads do not match its digest — the checkpoint was altered",
            ))
        if trusted_public_key and checkpoint.public_key.strip() != trusted_public_key.strip():
            report.problems.append(Problem(
                "checkpoint", None, None, None,
                f"{label}: signed with a key that is not this server's key",
            ))
        if not signature_valid(checkpoint.public_key, checkpoint.digest, checkpoint.signature):
            report.problems.append(Problem(
                "checkpoint", None, None, None, f"{label}: the signature is not valid",
            ))
        for chain, seq, digest in checkpoint.entries:
            actual = event_lookup(chain, seq)
            if actual is None:
                report.problems.append(Problem(
                    "truncated", chain, seq, None,
                    f"{chain}: event #{seq}, sealed by {label}, is missing — events were removed",
                ))
            elif actual != digest:
                report.problems.append(Problem(
                    "altered", chain, seq, None,
                    f"{chain}: event #{seq} differs from what {label} sealed — the chain was rewritten",
                ))
        expected_prev = checkpoint.digest


def signature_valid(public_key_pem: str, digest: str, signature_b64: str) -> bool:
    try:
        key = load_pem_public_key(public_key_pem.encode())
        key.verify(base64.b64decode(signature_b64), digest.encode())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def iter_sorted(events: Iterable[Any], to_dict: Callable[[Any], dict]) -> Iterator[dict]:
    for event in events:
        yield to_dict(event)
