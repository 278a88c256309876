"""The workflow's vocabulary as figures use it: final, outcome and open stages of every
workflow."""

from __future__ import annotations

from ...services.runtime import engines


def final_stages() -> list[str]:
    return sorted({n for e in engines().values() for n, s in e.definition.states.items() if s.final})


def outcome_stages(outcome: str) -> list[str]:
    return sorted({
        n for e in engines().values() for n, s in e.definition.states.items() if s.outcome == outcome
    })


def open_stages() -> list[str]:
    """Stages of every workflow in the order cases pass them (final stages left out)."""
    finals = set(final_stages())
    ordered: list[str] = []
    for workflow in engines().values():
        for stage in workflow.definition.stage_order():
            if stage not in finals and stage not in ordered:
                ordered.append(stage)
    return ordered
