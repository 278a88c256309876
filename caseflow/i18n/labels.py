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


def _name(table: dict[str, Any], code: str | None) -> str:
    if code is None:
        return ""
    return str(table.get(code, code))


def _options(codes, table) -> list[tuple[str, str]]:
    return [(code, str(table.get(code, code))) for code in codes]


class Labels:
    """What templates call: `labels.step_type(step.step_type)`, `labels.step_type_options()`…"""

    @staticmethod
    def step_type(code: str | None) -> str:
        return _name(STEP_TYPE_NAMES, code)

    @staticmethod
    def risk_level(code: str | None) -> str:
        return _name(RISK_LEVEL_NAMES, code)

    @staticmethod
    def rating(code: str | None) -> str:
        return _name(RATING_NAMES, code)

    @staticmethod
    def outcome(code: str | None) -> str:
        return _name(OUTCOME_NAMES, code)

    @staticmethod
    def closure_reason(code: str | None) -> str:
        return _name(CLOSURE_REASON_NAMES, code)

    @staticmethod
    def sex(code: str | None) -> str:
        return _name(SEX_NAMES, code)

    @staticmethod
    def step_type_options() -> list[tuple[str, str]]:
        return _options(STEP_TYPES, STEP_TYPE_NAMES)

    @staticmethod
    def risk_level_options() -> list[tuple[str, str]]:
        return _options(RISK_LEVELS, RISK_LEVEL_NAMES)

    @staticmethod
    def rating_options() -> list[tuple[str, str]]:
        return _options(GOAL_RATINGS, RATING_NAMES)

    @staticmethod
    def outcome_options() -> list[tuple[str, str]]:
        return _options(OUTCOMES, OUTCOME_NAMES)

    @staticmethod
    def closure_reason_options() -> list[tuple[str, str]]:
        return _options(CLOSURE_REASONS, CLOSURE_REASON_NAMES)

    @staticmethod
    def sex_options() -> list[tuple[str, str]]:
        return _options(("F", "M"), SEX_NAMES)


labels = Labels()
