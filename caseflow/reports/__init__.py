"""The read side: monitoring figures (`figures`, by subject), sealed months (`sealing`,
built on the figures), the dashboards (`dashboard`, `headline`, `tables`, `charts`,
`snapshots`) and printable documents (`documents`). Nothing here opens a write
transaction; the caches it keeps are written through `caseflow.services`."""

from __future__ import annotations

from flask import Flask

from . import sealing
from .figures import memo


def init_app(app: Flask) -> None:
    """The figures' per-transaction memo is forgotten at every commit and rollback; sealed
    months answer the figures they can, and count the steps logged into them."""
    memo.listen()
    sealing.init_app(app)
