"""Access to what create_app() built: the workflow engines and the audit signing key."""

from __future__ import annotations

from flask import current_app

from ..errors import NotFound
from ..workflow import WorkflowEngine


def engines() -> dict[str, WorkflowEngine]:
    return current_app.extensions["caseflow.workflows"]


def engine(name: str) -> WorkflowEngine:
    try:
        return engines()[name]
    except KeyError:
        raise NotFound(f"unknown workflow '{name}'") from None


def default_workflow_name() -> str:
    names = engines()
    return "rehabilitation" if "rehabilitation" in names else sorted(names)[0]
