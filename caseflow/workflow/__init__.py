"""Workflow definitions (workflows/*.yaml) and the engine that runs them."""

from .definition import (
    AftercareDef,
    StateDef,
    TransitionDef,
    WorkflowDefinition,
    load_workflow,
    load_workflows,
    parse_workflow,
)
from .engine import STAGE_COLUMNS, WorkflowEngine
from .guards import GUARDS, Missing


def build_engines(directory) -> dict[str, WorkflowEngine]:
    return {name: WorkflowEngine(d) for name, d in load_workflows(directory).items()}


__all__ = [
    "GUARDS",
    "STAGE_COLUMNS",
    "AftercareDef",
    "Missing",
    "StateDef",
    "TransitionDef",
    "WorkflowDefinition",
    "WorkflowEngine",
    "build_engines",
    "load_workflow",
    "load_workflows",
    "parse_workflow",
]
