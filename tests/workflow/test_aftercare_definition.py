"""The workflow file's `aftercare:` section is validated at start, naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from caseflow.errors import WorkflowDefinitionError
from caseflow.workflow import load_workflow, parse_workflow

REHABILITATION = Path(__file__).resolve().parents[2] / "workflows" / "rehabilitation.yaml"


def with_aftercare(**changes) -> dict:
    raw = yaml.safe_load(REHABILITATION.read_text())
    raw["aftercare"] = raw["aftercare"] | changes
    return raw


def refused(raw: dict) -> str:
    with pytest.raises(WorkflowDefinitionError) as error:
        parse_workflow(raw, "broken.yaml")
    return str(error.value)


def test_the_default_workflow_follows_resolved_cases_for_six_months():
    aftercare = load_workflow(REHABILITATION).aftercare_after("resolved")
    assert aftercare.period_days == 180 and aftercare.contacts_days == (30, 90, 150)
    assert load_workflow(REHABILITATION).aftercare_after("closed_unresolved") is None


def test_a_workflow_without_aftercare_is_still_valid():
    raw = yaml.safe_load(REHABILITATION.read_text())
    del raw["aftercare"]
    assert parse_workflow(raw, "plain.yaml").aftercare is None


@pytest.mark.parametrize("changes, problem", [
    ({"after": ["resolvd"]}, "unknown state 'resolvd'"),
    ({"after": ["closed_unresolved"]}, "is not a final state with outcome 'resolved'"),
    ({"after": ["evaluation"]}, "is not a final state with outcome 'resolved'"),
    ({"period_days": 0}, "period_days"),
    ({"period_days": "six months"}, "period_days"),
    ({"contacts_days": []}, "contacts_days"),
    ({"contacts_days": [30, "x"]}, "contacts_days"),
    ({"contacts_days": [30, 175]}, "does not fit in the period of 180 days"),
    ({"contacts_days": [30, 40]}, "overlap"),
    ({"contacts_days": [90, 30]}, "overlap"),
    ({"window_days": -1}, "window_days"),
    ({"every": "month"}, "unknown key(s) every"),
])
def test_a_wrong_aftercare_section_stops_the_start_naming_the_problem(changes, problem):
    message = refused(with_aftercare(**changes))
    assert "aftercare" in message and problem in message


def test_aftercare_needs_a_way_to_reopen_the_case_on_a_relapse():
    raw = with_aftercare()
    raw["transitions"] = [t for t in raw["transitions"] if not t.get("reopens")]
    assert "no transition reopens 'resolved'" in refused(raw)
