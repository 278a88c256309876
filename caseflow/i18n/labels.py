"""Display names of the codes the schemas accept (step types, risk levels, ratings,
outcomes, closure reasons), in the reader's language. Templates get them as `labels`."""

from __future__ import annotations

from typing import Any

from ..i18n import _l
from ..schemas import CLOSURE_REASONS, GOAL_RATINGS, OUTCOMES, RISK_LEVELS, STEP_TYPES

STEP_TYPE_NAMES = {
    "home_visit": _l("Home visit"),
    "counselling": _l("Counselling"),
    "referral": _l("Referral"),
    "assistance_delivered": _l("Assistance delivered"),
    "phone_call": _l("Phone call"),
    "case_conference": _l("Case conference"),
    "accompaniment": _l("Accompaniment"),
    "other": _l("Other"),
}
RISK_LEVEL_NAMES = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High")}
RATING_NAMES = {
    "achieved": _l("Achieved"),
    "partly_achieved": _l("Partly achieved"),
    "not_achieved": _l("Not achieved"),
}
OUTCOME_NAMES = {"resolved": _l("Resolved"), "closed_unresolved": _l("Closed unresolved")}
CLOSURE_REASON_NAMES = {
    "referred": _l("Referred elsewhere"),
    "moved": _l("Client moved away"),
    "died": _l("Client died"),
    "withdrew": _l("Client withdrew"),
    "unreachable": _l("Client cannot be reached"),
    "other": _l("Other reason"),
}
SEX_NAMES = {"F": _l("Female"), "M": _l("Male")}


def name_of(table: dict[str, Any]) -> staticmethod:
    """A label class's lookup of a code's name in `table` (an unknown code shows as itself,
    no code as nothing)."""
    def name(code: str | None) -> str:
        return "" if code is None else str(table.get(code, code))
    return staticmethod(name)


def options_of(codes, table: dict[str, Any]) -> staticmethod:
    """A label class's choices of a form: each of `codes` with its name in `table`."""
    def options() -> list[tuple[str, str]]:
        return [(code, str(table.get(code, code))) for code in codes]
    return staticmethod(options)


class Labels:
    """What templates call: `labels.step_type(step.step_type)`, `labels.step_type_options()`…"""

    step_type = name_of(STEP_TYPE_NAMES)
    risk_level = name_of(RISK_LEVEL_NAMES)
    rating = name_of(RATING_NAMES)
    outcome = name_of(OUTCOME_NAMES)
    closure_reason = name_of(CLOSURE_REASON_NAMES)
    sex = name_of(SEX_NAMES)

    step_type_options = options_of(STEP_TYPES, STEP_TYPE_NAMES)
    risk_level_options = options_of(RISK_LEVELS, RISK_LEVEL_NAMES)
    rating_options = options_of(GOAL_RATINGS, RATING_NAMES)
    outcome_options = options_of(OUTCOMES, OUTCOME_NAMES)
    closure_reason_options = options_of(CLOSURE_REASONS, CLOSURE_REASON_NAMES)
    sex_options = options_of(("F", "M"), SEX_NAMES)


labels = Labels()
