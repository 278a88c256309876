"""Load and validate workflow files (workflows/*.yaml).

A workflow is data: states, transitions, roles, guards, sign-offs and deadlines. Every
problem is reported with the file, the entry and what is wrong, and stops the start.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from flask_babel import LazyString, get_locale

from ..errors import WorkflowDefinitionError
from ..models.user import Role
from .guards import GUARDS

STAGE_RECORDS = ("assessment", "plan", "evaluation", "termination")
# Roles that act on a case; the rest never fire triggers.
CASE_ROLES = (Role.FACILITATOR.value, Role.SUPERVISOR.value)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

_TOP_KEYS = {"name", "title", "initial", "states", "transitions", "aftercare"}
_STATE_KEYS = {"label", "deadline_days", "records", "final", "outcome"}
_TRANSITION_KEYS = {
    "trigger", "source", "dest", "roles", "guards", "label", "sign_off",
    "via_sign_off", "requires_reason", "reopens",
}
_SIGN_OFF_KEYS = {"decided_by", "approve", "reject", "within_working_days", "escalate_to"}
_AFTERCARE_KEYS = {"after", "period_days", "contacts_days", "window_days"}
# Escalation of an overdue sign-off: to the deciding supervisor's own supervisor (who may
# then decide), or a notification to every user of a named role in the case's province.
SUPERVISORS_SUPERVISOR = "supervisors_supervisor"


def current_locale() -> str:
    try:
        return str(get_locale() or "en")
    except RuntimeError:  # outside an application context
        return "en"


@dataclass(frozen=True)
class SignOffPolicy:
    decided_by: tuple[str, ...]
    approve: str
    reject: str
    within_working_days: int | None = None
    escalate_to: str | None = None


@dataclass(frozen=True)
class AftercareDef:
    """After a resolved stage, the case is followed for `period_days` with a planned
    contact on each of `contacts_days` (days after the resolution); a step logged within
    `window_days` either side of a contact's day makes it. Reopening the case during the
    period (a relapse) ends it."""

    after: tuple[str, ...]
    period_days: int
    contacts_days: tuple[int, ...]
    window_days: int


@dataclass(frozen=True)
class StateDef:
    name: str
    label: dict[str, str]
    deadline_days: int | None
    records: tuple[str, ...]
    final: bool
    outcome: str | None

    def title(self, locale: str) -> str:
        return self.label.get(locale) or self.label.get("en") or self.name

    @property
    def lazy_title(self) -> LazyString:
        """The label in the reader's language, decided when the message is shown."""
        return LazyString(lambda: self.title(current_locale()))


@dataclass(frozen=True)
class TransitionDef:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    guards: tuple[str, ...]
    label: dict[str, str]
    sign_off: SignOffPolicy | None
    via_sign_off: bool
    requires_reason: bool
    reopens: bool

    def title(self, locale: str) -> str:
        return self.label.get(locale) or self.label.get("en") or self.trigger

    @property
    def lazy_title(self) -> LazyString:
        return LazyString(lambda: self.title(current_locale()))


@dataclass
class WorkflowDefinition:
    name: str
    path: str
    title: dict[str, str]
    initial: str
    states: dict[str, StateDef]
    transitions: list[TransitionDef]
    aftercare: AftercareDef | None = None
    triggers: dict[str, list[TransitionDef]] = field(default_factory=dict)
    _stage_order: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for transition in self.transitions:
            self.triggers.setdefault(transition.trigger, []).append(transition)

    def stage_order(self) -> list[str]:
        """States in the order a case normally passes them (for progress bars)."""
        if self._stage_order is None:
            self._stage_order = self._compute_stage_order()
        return list(self._stage_order)

    def stage_index(self, state: str) -> int:
        if self._stage_order is None:
            self.stage_order()
        return self._stage_order.index(state)

    def _compute_stage_order(self) -> list[str]:
        order, seen, queue = [], {self.initial}, deque([self.initial])
        while queue:
            state = queue.popleft()
            order.append(state)
            for transition in self.transitions:
                if state in transition.sources and transition.dest not in seen and not transition.reopens:
                    seen.add(transition.dest)
                    queue.append(transition.dest)
        return order

    def aftercare_after(self, state: str) -> AftercareDef | None:
        """The aftercare that follows entering `state`, if the workflow has one there."""
        if self.aftercare is not None and state in self.aftercare.after:
            return self.aftercare
        return None

    def editable_records(self, state: str) -> tuple[str, ...]:
        return self.states[state].records

    def sign_off_policy(self, requested_trigger: str) -> SignOffPolicy | None:
        for transition in self.triggers.get(requested_trigger, []):
            if transition.sign_off:
                return transition.sign_off
        return None

    def sign_off_policy_for_decision(self, trigger: str) -> tuple[TransitionDef, SignOffPolicy] | None:
        for transition in self.transitions:
            policy = transition.sign_off
            if policy and trigger in (policy.approve, policy.reject):
                return transition, policy
        return None


def load_workflow(path: str | Path) -> WorkflowDefinition:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise WorkflowDefinitionError(str(path), "file", f"not valid YAML: {exc}") from exc
    except OSError as exc:
        raise WorkflowDefinitionError(str(path), "file", f"cannot be read: {exc}") from exc
    return parse_workflow(raw, str(path))


def load_workflows(directory: str | Path) -> dict[str, WorkflowDefinition]:
    directory = Path(directory)
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        raise WorkflowDefinitionError(str(directory), "directory", "contains no workflow file")
    workflows: dict[str, WorkflowDefinition] = {}
    for file in files:
        definition = load_workflow(file)
        if definition.name in workflows:
            raise WorkflowDefinitionError(
                str(file), "name",
                f"workflow '{definition.name}' is already defined in {workflows[definition.name].path}",
            )
        workflows[definition.name] = definition
    return workflows


def parse_workflow(raw: Any, path: str) -> WorkflowDefinition:
    def fail(entry: str, problem: str) -> WorkflowDefinitionError:
        return WorkflowDefinitionError(path, entry, problem)

    if not isinstance(raw, dict):
        raise fail("file", "must be a mapping with name, initial, states and transitions")
    _reject_unknown(raw, _TOP_KEYS, "file", fail)
    for key in ("name", "initial", "states", "transitions"):
        if key not in raw:
            raise fail(key, "is required")
    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("name", "must be a lower-case identifier")

    raw_states = raw["states"]
    if not isinstance(raw_states, dict) or not raw_states:
        raise fail("states", "must be a non-empty mapping of state name to its settings")
    states: dict[str, StateDef] = {}
    for state_name, settings in raw_states.items():
        states[state_name] = _parse_state(state_name, settings or {}, fail)

    initial = raw["initial"]
    if initial not in states:
        raise fail("initial", f"unknown state '{initial}'")
    if states[initial].final:
        raise fail("initial", f"'{initial}' is a final state")

    raw_transitions = raw["transitions"]
    if not isinstance(raw_transitions, list) or not raw_transitions:
        raise fail("transitions", "must be a non-empty list")
    transitions = [
        _parse_transition(index, entry, states, fail) for index, entry in enumerate(raw_transitions)
    ]
    definition = WorkflowDefinition(
        name=name, path=path, title=_label(raw.get("title"), name, "title", fail),
        initial=initial, states=states, transitions=transitions,
        aftercare=_parse_aftercare(raw.get("aftercare"), states, transitions, fail),
    )
    _check_sign_offs(definition, fail)
    _check_reachability(definition, fail)
    return definition


def _reject_unknown(mapping: dict, allowed: set[str], entry: str, fail) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise fail(entry, f"unknown key(s) {', '.join(map(str, unknown))}; allowed: {', '.join(sorted(allowed))}")


def _label(value: Any, default: str, entry: str, fail) -> dict[str, str]:
    if value is None:
        return {"en": default}
    if isinstance(value, str):
        return {"en": value, "id": value}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return dict(value)
    raise fail(entry, "label must be text or a mapping of language to text")


def _parse_state(state_name: Any, settings: Any, fail) -> StateDef:
    entry = f"states.{state_name}"
    if not isinstance(state_name, str) or not _NAME.match(state_name):
        raise fail(entry, "state names must be lower-case identifiers")
    if not isinstance(settings, dict):
        raise fail(entry, "must be a mapping")
    _reject_unknown(settings, _STATE_KEYS, entry, fail)
    deadline = settings.get("deadline_days")
    final = bool(settings.get("final", False))
    if deadline is not None and (not isinstance(deadline, int) or isinstance(deadline, bool) or deadline <= 0):
        raise fail(f"{entry}.deadline_days", "must be a positive whole number of days")
    if final and deadline is not None:
        raise fail(f"{entry}.deadline_days", "a final state has no deadline")
    records = settings.get("records") or []
    if not isinstance(records, list):
        raise fail(f"{entry}.records", "must be a list")
    for record in records:
        if record not in STAGE_RECORDS:
            raise fail(f"{entry}.records", f"unknown record '{record}'; known: {', '.join(STAGE_RECORDS)}")
    outcome = settings.get("outcome")
    if outcome is not None and not final:
        raise fail(f"{entry}.outcome", "only a final state has an outcome")
    return StateDef(
        name=state_name, label=_label(settings.get("label"), state_name, f"{entry}.label", fail),
        deadline_days=deadline, records=tuple(records), final=final, outcome=outcome,
    )


def _names(value: Any, entry: str, fail, *, required: bool) -> tuple[str, ...]:
    if value is None:
        if required:
            raise fail(entry, "is required")
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise fail(entry, "must be a name or a list of names")
    if required and not items:
        raise fail(entry, "must name at least one")
    return tuple(items)


def _parse_transition(index: int, entry_value: Any, states: dict[str, StateDef], fail) -> TransitionDef:
    trigger = entry_value.get("trigger") if isinstance(entry_value, dict) else None
    entry = f"transitions[{index}]" + (f" ({trigger})" if trigger else "")
    if not isinstance(entry_value, dict):
        raise fail(entry, "must be a mapping")
    _reject_unknown(entry_value, _TRANSITION_KEYS, entry, fail)
    if not isinstance(trigger, str) or not _NAME.match(trigger):
        raise fail(f"{entry}.trigger", "is required and must be a lower-case identifier")
    sources = _names(entry_value.get("source"), f"{entry}.source", fail, required=True)
    dest = entry_value.get("dest")
    for source in sources:
        if source not in states:
            raise fail(f"{entry}.source", f"unknown state '{source}'")
    if not isinstance(dest, str) or dest not in states:
        raise fail(f"{entry}.dest", f"unknown state '{dest}'")
    reopens = bool(entry_value.get("reopens", False))
    for source in sources:
        if states[source].final and not reopens:
            raise fail(
                f"{entry}.source",
                f"'{source}' is a final state; only a transition marked 'reopens: true' may leave it",
            )
    if reopens and not all(states[source].final for source in sources):
        raise fail(f"{entry}.reopens", "only transitions out of final states reopen a case")
    roles = _names(entry_value.get("roles"), f"{entry}.roles", fail, required=True)
    for role in roles:
        if role not in CASE_ROLES:
            raise fail(f"{entry}.roles", f"unknown role '{role}'; a case's trigger is fired by: {', '.join(CASE_ROLES)}")
    guards = _names(entry_value.get("guards"), f"{entry}.guards", fail, required=False)
    for guard_name in guards:
        if guard_name not in GUARDS:
            raise fail(f"{entry}.guards", f"unknown guard '{guard_name}'; known: {', '.join(sorted(GUARDS))}")
    sign_off = None
    raw_sign_off = entry_value.get("sign_off")
    if raw_sign_off is not None:
        if not isinstance(raw_sign_off, dict):
            raise fail(f"{entry}.sign_off", "must be a mapping with decided_by, approve and reject")
        _reject_unknown(raw_sign_off, _SIGN_OFF_KEYS, f"{entry}.sign_off", fail)
        decided_by = _names(raw_sign_off.get("decided_by"), f"{entry}.sign_off.decided_by", fail, required=True)
        for role in decided_by:
            if role not in CASE_ROLES:
                raise fail(f"{entry}.sign_off.decided_by", f"unknown role '{role}'")
        for key in ("approve", "reject"):
            if not isinstance(raw_sign_off.get(key), str):
                raise fail(f"{entry}.sign_off.{key}", "must name the trigger fired by the decision")
        days = raw_sign_off.get("within_working_days")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60):
            raise fail(f"{entry}.sign_off.within_working_days", "must be a whole number of working days, 1 to 60")
        escalate_to = raw_sign_off.get("escalate_to")
        if escalate_to is not None:
            allowed = (SUPERVISORS_SUPERVISOR, *(role.value for role in Role))
            if escalate_to not in allowed:
                raise fail(f"{entry}.sign_off.escalate_to", f"must be one of: {', '.join(allowed)}")
            if days is None:
                raise fail(f"{entry}.sign_off.escalate_to", "needs within_working_days: escalate after how long?")
        sign_off = SignOffPolicy(decided_by, raw_sign_off["approve"], raw_sign_off["reject"],
                                 within_working_days=days, escalate_to=escalate_to)
    return TransitionDef(
        trigger=trigger, sources=sources, dest=dest, roles=roles, guards=guards,
        label=_label(entry_value.get("label"), trigger, f"{entry}.label", fail),
        sign_off=sign_off, via_sign_off=bool(entry_value.get("via_sign_off", False)),
        requires_reason=bool(entry_value.get("requires_reason", False)), reopens=reopens,
    )


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_aftercare(raw: Any, states: dict[str, StateDef], transitions: list[TransitionDef],
                     fail) -> AftercareDef | None:
    if raw is None:
        return None
    entry = "aftercare"
    if not isinstance(raw, dict):
        raise fail(entry, "must be a mapping with after, period_days, contacts_days and window_days")
    _reject_unknown(raw, _AFTERCARE_KEYS, entry, fail)
    after = _names(raw.get("after"), f"{entry}.after", fail, required=True)
    for state in after:
        if state not in states:
            raise fail(f"{entry}.after", f"unknown state '{state}'")
        if states[state].outcome != "resolved":
            raise fail(f"{entry}.after", f"'{state}' is not a final state with outcome 'resolved'")
        if not any(state in t.sources and t.reopens for t in transitions):
            raise fail(f"{entry}.after", f"no transition reopens '{state}': a relapse could not reopen the case")
    period = raw.get("period_days")
    if not _whole(period) or not 1 <= period <= 3650:
        raise fail(f"{entry}.period_days", "must be a whole number of days, 1 to 3650")
    window = raw.get("window_days", 0)
    if not _whole(window) or window < 0:
        raise fail(f"{entry}.window_days", "must be a whole number of days, 0 or more")
    days = raw.get("contacts_days")
    if not isinstance(days, list) or not days or not all(_whole(d) and d > 0 for d in days):
        raise fail(f"{entry}.contacts_days", "must be a list of days after the resolution (whole numbers above 0)")
    for index, day in enumerate(days):
        if day - window < 0 or day + window > period:
            raise fail(f"{entry}.contacts_days",
                       f"the contact on day {day} with a window of {window} day(s) does not fit in the "
                       f"period of {period} days")
        if index and days[index - 1] + window >= day - window:
            raise fail(f"{entry}.contacts_days",
                       f"the windows of the contacts on days {days[index - 1]} and {day} overlap "
                       f"(or are not in order)")
    return AftercareDef(after=after, period_days=period, contacts_days=tuple(days), window_days=window)


def _check_sign_offs(definition: WorkflowDefinition, fail) -> None:
    for index, transition in enumerate(definition.transitions):
        policy = transition.sign_off
        entry = f"transitions[{index}] ({transition.trigger})"
        if transition.via_sign_off and definition.sign_off_policy_for_decision(transition.trigger) is None:
            raise fail(f"{entry}.via_sign_off", "no sign-off names this trigger as its approve or reject")
        if policy is None:
            continue
        for key, decision in (("approve", policy.approve), ("reject", policy.reject)):
            alternatives = definition.triggers.get(decision)
            if not alternatives:
                raise fail(f"{entry}.sign_off.{key}", f"unknown trigger '{decision}'")
            for alternative in alternatives:
                if transition.dest not in alternative.sources:
                    raise fail(f"{entry}.sign_off.{key}",
                               f"'{decision}' does not leave '{transition.dest}', where the request waits")
                if not alternative.via_sign_off:
                    raise fail(f"{entry}.sign_off.{key}",
                               f"'{decision}' must be marked 'via_sign_off: true' so nobody fires it directly")


def _check_reachability(definition: WorkflowDefinition, fail) -> None:
    reachable = {definition.initial}
    queue = deque([definition.initial])
    while queue:
        state = queue.popleft()
        for transition in definition.transitions:
            if state in transition.sources and transition.dest not in reachable:
                reachable.add(transition.dest)
                queue.append(transition.dest)
    for state in definition.states:
        if state not in reachable:
            raise fail(f"states.{state}", f"unreachable from the initial state '{definition.initial}'")
    if not any(state.final for state in definition.states.values()):
        raise fail("states", "no final state: a case could never be closed")
    for state in definition.states.values():
        if not state.final and not any(state.name in t.sources for t in definition.transitions):
            raise fail(f"states.{state.name}", "has no way out and is not marked final")
