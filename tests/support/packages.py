"""Taking an evidence package apart and putting it back together, changed as a forger would:
what the tamper tests of the package, its verification page and the browser journey share."""

from __future__ import annotations

import io
import json
import zipfile


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def event_lines(files) -> list[dict]:
    return [json.loads(line) for line in files["events.jsonl"].decode().splitlines()]


def with_events(files, events: list[dict]) -> dict[str, bytes]:
    text = "".join(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" for e in events)
    return {**files, "events.jsonl": text.encode()}


def with_role_changed(package: bytes, position: int, role: str) -> bytes:
    """The package with the role of the event at `position` changed."""
    files = members(package)
    events = event_lines(files)
    events[position]["actor_role"] = role
    return rezip(with_events(files, events))
