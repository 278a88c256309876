"""Display names of the codes the schemas accept (step types, risk levels, ratings,
outcomes, closure reasons), in the reader's language. Templates get them as `labels`."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
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


def _options(codes: Iterable[str], table: dict[str, Any]) -> list[tuple[str, str]]:
    return [(code, str(table.get(code, code))) for code in codes]


class Labels:
    """Names of codes in the reader's language, as templates call them: for each table of
    `names`, `labels.step_type(step.step_type)`; for each kind `choices` lists the codes of,
    a form's choices, `labels.step_type_options()`. An unknown code shows as itself, no code
    as nothing."""

    def __init__(self, *, choices: dict[str, Iterable[str]], **names: dict[str, Any]):
        for kind, table in names.items():
            setattr(self, kind, partial(_name, table))
        for kind, codes in choices.items():
            setattr(self, f"{kind}_options", partial(_options, codes, names[kind]))


labels = Labels(
    step_type=STEP_TYPE_NAMES, risk_level=RISK_LEVEL_NAMES, rating=RATING_NAMES, outcome=OUTCOME_NAMES,
    closure_reason=CLOSURE_REASON_NAMES, sex=SEX_NAMES,
    choices={"step_type": STEP_TYPES, "risk_level": RISK_LEVELS, "rating": GOAL_RATINGS, "outcome": OUTCOMES,
             "closure_reason": CLOSURE_REASONS, "sex": ("F", "M")})
