"""One `transitions` machine per workflow definition, shared by every case.

Cases are not machine models: firing a trigger hands the machine a short-lived token
that carries the case's state, and only after the machine accepts the move does the
engine write the new state onto the case. The database transaction around the service
call is the only thing that makes a move permanent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from transitions import Machine, MachineError

from ..errors import GuardFailed, InvalidTransition
from ..i18n import _l
from ..models.case import Case, _state_change_allowed
from ..models.deadlines import deadline_end
from .definition import AftercareDef, TransitionDef, WorkflowDefinition
from .guards import GUARDS, Missing


def _zone_of(case: Case) -> str:
    """The case's province zone (a case being opened has only its province code yet)."""
    return case.timezone


@dataclass
class _Token:
    """What the machine sees of a case while one trigger is processed."""

    case: Any
    state: str
    failures: list[Missing] = field(default_factory=list)


class _GuardCondition:
    def __init__(self, name: str):
        self.name = name
        self.check = GUARDS[name]

    def __call__(self, event_data) -> bool:
        token: _Token = event_data.model
        missing = self.check(token.case)
        token.failures.extend(missing)
        return not missing

    def __repr__(self) -> str:
        return f"<guard {self.name}>"


@contextmanager
def _engine_may_set_state() -> Iterator[None]:
    token = _state_change_allowed.set(True)
    try:
        yield
    finally:
        _state_change_allowed.reset(token)


# The case's columns that entering a state sets (enter_state): a service that writes the
# moved case's row itself writes these.
STAGE_COLUMNS = ("state", "stage_entered_at", "stage_due_at", "closed_at")


class WorkflowEngine:
    def __init__(self, definition: WorkflowDefinition):
        self.definition = definition
        self.machine = Machine(
            model=None,
            states=list(definition.states),
            initial=definition.initial,
            transitions=[
                {
                    "trigger": t.trigger,
                    "source": list(t.sources),
                    "dest": t.dest,
                    "conditions": [_GuardCondition(name) for name in t.guards],
                }
                for t in definition.transitions
            ],
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
            model_attribute="state",
        )
        # Triggers available per state, computed once: "what can be done on these 1,000
        # cases" is then a dictionary lookup per case, not a machine per case.
        self._by_state: dict[str, list[TransitionDef]] = {state: [] for state in definition.states}
        for transition in definition.transitions:
            for source in transition.sources:
                bucket = self._by_state[source]
                if all(existing.trigger != transition.trigger for existing in bucket):
                    bucket.append(transition)

    @property
    def name(self) -> str:
        return self.definition.name

    def transitions_from(self, state: str) -> list[TransitionDef]:
        return self._by_state.get(state, [])

    def transition(self, state: str, trigger: str) -> TransitionDef:
        for transition in self.transitions_from(state):
            if transition.trigger == trigger:
                return transition
        if trigger not in self.definition.triggers:
            raise InvalidTransition(_l("Unknown action '%(trigger)s'.", trigger=trigger))
        raise InvalidTransition(
            _l("'%(trigger)s' is not possible while the case is in '%(state)s'.",
               trigger=self.definition.triggers[trigger][0].lazy_title,
               state=self.definition.states[state].lazy_title if state in self.definition.states else state),
            trigger=trigger, state=state,
        )

    def missing_for(self, case: Case, trigger: str) -> list[Missing]:
        """What stops `trigger` now (empty: it may be fired). Checks every alternative."""
        alternatives = [
            t for t in self.definition.triggers.get(trigger, []) if case.state in t.sources
        ]
        missing: list[Missing] = []
        for alternative in alternatives:
            found = [m for name in alternative.guards for m in GUARDS[name](case)]
            if not found:
                return []
            missing.extend(found)
        return missing

    def fire(self, case: Case, trigger: str, now: datetime) -> TransitionDef:
        """Run `trigger` through the machine and move the case; raise if refused."""
        token = _Token(case=case, state=case.state)
        self.transition(case.state, trigger)  # unknown / wrong state: a clear error first
        try:
            accepted = self.machine.events[trigger].trigger(token)
        except MachineError as exc:
            raise InvalidTransition(str(exc)) from exc
        if not accepted:
            raise GuardFailed(_l("The case cannot move on yet"), token.failures, trigger=trigger)
        taken = next(
            t for t in self.definition.triggers[trigger]
            if case.state in t.sources and t.dest == token.state
        )
        self.enter_state(case, token.state, now)
        return taken

    def enter_state(self, case: Case, state: str, now: datetime) -> None:
        settings = self.definition.states[state]
        with _engine_may_set_state():
            case.state = state
        case.stage_entered_at = now
        # The last day ends at 23:59 in the case's province zone (models/deadlines.py).
        case.stage_due_at = (deadline_end(now, settings.deadline_days, _zone_of(case))
                             if settings.deadline_days else None)
        case.closed_at = now if settings.final else None

    def start(self, case: Case, now: datetime) -> None:
        case.workflow = self.name
        self.enter_state(case, self.definition.initial, now)

    def is_final(self, state: str) -> bool:
        return self.definition.states[state].final

    def aftercare_after(self, state: str) -> AftercareDef | None:
        """The workflow's aftercare for a case that has just entered `state` (or None)."""
        return self.definition.aftercare_after(state)
