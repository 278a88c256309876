"""Typed errors of the domain and service layers.

The web and API layers translate them: a page message or a problem+json response with
the status named here.
"""

from __future__ import annotations

from typing import Any


class CaseflowError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, message: Any, *, fields: dict[str, list[Any]] | None = None, **extra: Any):
        super().__init__(str(message))
        self.message = message
        self.fields = fields or {}
        self.extra = extra

    def __str__(self) -> str:
        text = str(self.message)
        if self.fields:
            details = "; ".join(
                f"{name}: {', '.join(str(m) for m in messages)}" for name, messages in self.fields.items()
            )
            text = f"{text} ({details})"
        return text


class ValidationError(CaseflowError):
    status = 422
    title = "Invalid input"


class NotFound(CaseflowError):
    status = 404
    title = "Not found"


class NotAllowed(CaseflowError):
    status = 403
    title = "Not allowed"


class GuardFailed(CaseflowError):
    """A transition's guard refused: `missing` says what has to be recorded first."""

    status = 409
    title = "Something is missing"

    def __init__(self, message: Any, missing: list[Any], **extra: Any):
        super().__init__(message, **extra)
        self.missing = missing

    def __str__(self) -> str:
        return f"{self.message}: " + "; ".join(str(m) for m in self.missing)


class InvalidTransition(CaseflowError):
    status = 409
    title = "Not possible in this state"


class Conflict(CaseflowError):
    """Someone else changed the record first; `current` describes what it is now."""

    status = 409
    title = "Conflict"


class TooMany(CaseflowError):
    """The user already has as much running as one person may (export jobs, say)."""

    status = 429
    title = "Too many at once"


class StorageUnavailable(CaseflowError):
    """The database refused to write (read-only, disk full, locked too long): nothing of
    this operation was saved, and nothing saved before is lost."""

    status = 503
    title = "Storage unavailable"


class WorkflowDefinitionError(Exception):
    """A workflow file is invalid: the application must not start with it."""

    def __init__(self, path: str, entry: str, problem: str):
        super().__init__(f"{path}: {entry}: {problem}")
        self.path = path
        self.entry = entry
        self.problem = problem
