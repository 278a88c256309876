"""Workflow files are validated at start-up; the engine runs any valid file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from caseflow.errors import GuardFailed, WorkflowDefinitionError
from caseflow.extensions import db
from caseflow.services import cases
from caseflow.services.context import Actor
from caseflow.workflow import load_workflow, parse_workflow

ROOT = Path(__file__).resolve().parents[2]
REHABILITATION = ROOT / "workflows" / "rehabilitation.yaml"
REFERRAL = Path(__file__).parent / "files" / "referral.yaml"


def rehabilitation() -> dict:
    return yaml.safe_load(REHABILITATION.read_text())


def refuse(raw: dict) -> WorkflowDefinitionError:
    with pytest.raises(WorkflowDefinitionError) as refused:
        parse_workflow(raw, "broken.yaml")
    return refused.value


def test_default_workflow_is_valid_and_ordered():
    definition = load_workflow(REHABILITATION)
    assert definition.stage_order()[:6] == [
        "recorded", "assessment", "planning", "intervention", "evaluation", "termination_review"]
    assert {s for s, d in definition.states.items() if d.final} == {"resolved", "closed_unresolved"}


def test_unknown_state_is_named():
    raw = rehabilitation()
    raw["transitions"][0]["dest"] = "limbo"
    error = refuse(raw)
    assert error.path == "broken.yaml"
    assert error.entry == "transitions[0] (start_assessment).dest"
    assert "unknown state 'limbo'" in error.problem


def test_unreachable_state_is_named():
    raw = rehabilitation()
    raw["states"]["forgotten"] = {"deadline_days": 3}
    raw["transitions"].append({"trigger": "leave", "source": "forgotten", "dest": "resolved", "roles": ["supervisor"]})
    error = refuse(raw)
    assert error.entry == "states.forgotten" and "unreachable" in error.problem


def test_transition_out_of_a_final_state_needs_reopens():
    raw = rehabilitation()
    raw["transitions"][-1].pop("reopens")
    error = refuse(raw)
    assert "final state" in error.problem and "reopens" in error.problem


def test_unknown_guard_is_named():
    raw = rehabilitation()
    raw["transitions"][1]["guards"] = ["moon_is_full"]
    error = refuse(raw)
    assert error.entry.endswith(".guards") and "unknown guard 'moon_is_full'" in error.problem


def test_missing_role_is_named():
    raw = rehabilitation()
    del raw["transitions"][0]["roles"]
    error = refuse(raw)
    assert error.entry == "transitions[0] (start_assessment).roles" and "required" in error.problem


def test_unknown_role_and_unknown_key_are_named():
    raw = rehabilitation()
    raw["transitions"][0]["roles"] = ["janitor"]
    assert "unknown role 'janitor'" in refuse(raw).problem
    raw = rehabilitation()
    raw["transitions"][0]["on_enter"] = "os.system"
    assert "unknown key(s) on_enter" in refuse(raw).problem


def test_sign_off_decisions_must_be_protected():
    raw = rehabilitation()
    for transition in raw["transitions"]:
        if transition["trigger"] == "reject_termination":
            transition.pop("via_sign_off")
    assert "via_sign_off" in refuse(raw).problem


def test_state_without_a_way_out_must_be_final():
    raw = {
        "name": "tiny", "initial": "a",
        "states": {"a": {}, "stuck": {}, "done": {"final": True}},
        "transitions": [
            {"trigger": "go", "source": "a", "dest": "stuck", "roles": ["facilitator"]},
            {"trigger": "finish", "source": "a", "dest": "done", "roles": ["facilitator"]},
        ],
    }
    error = refuse(raw)
    assert error.entry == "states.stuck" and "no way out" in error.problem


def test_invalid_yaml_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(WorkflowDefinitionError) as refused:
        load_workflow(path)
    assert str(path) in str(refused.value) and "not valid YAML" in str(refused.value)


def test_app_refuses_to_start_with_a_broken_workflow(tmp_path, app_with):
    directory = tmp_path / "workflows"
    directory.mkdir()
    raw = rehabilitation()
    raw["initial"] = "nowhere"
    (directory / "rehabilitation.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(WorkflowDefinitionError) as refused:
        app_with(CASEFLOW_WORKFLOWS_DIR=str(directory))
    assert "rehabilitation.yaml: initial: unknown state 'nowhere'" in str(refused.value)


def test_cli_start_fails_with_the_message(tmp_path, monkeypatch):
    import subprocess
    import sys

    directory = tmp_path / "workflows"
    directory.mkdir()
    raw = rehabilitation()
    raw["transitions"][1]["guards"] = ["moon_is_full"]
    (directory / "rehabilitation.yaml").write_text(yaml.safe_dump(raw))
    env = {"CASEFLOW_WORKFLOWS_DIR": str(directory), "CASEFLOW_INSTANCE_PATH": str(tmp_path),
           "CASEFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "caseflow.cli", "audit", "verify"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "unknown guard 'moon_is_full'" in result.stderr


@pytest.fixture
def two_workflow_app(app_with, tmp_path):
    directory = tmp_path / "workflows"
    directory.mkdir()
    shutil.copy(REHABILITATION, directory)
    shutil.copy(REFERRAL, directory)
    app = app_with(CASEFLOW_WORKFLOWS_DIR=str(directory))
    with app.app_context():
        yield app
        db.session.remove()


def test_a_second_workflow_runs_on_the_same_engine(two_workflow_app):
    from tests.support.factories import COMPLETE_ASSESSMENT, Factory

    make = Factory(two_workflow_app)
    supervisor = make.user("supervisor")
    facilitator = make.user("facilitator", supervisor=supervisor)
    client = make.client(facilitator)
    me, boss = Actor(user=facilitator), Actor(user=supervisor)
    case = cases.open_case(me, {"client_id": client.id, "ppks_category_code": "P02", "workflow": "referral"})
    assert case.workflow == "referral" and case.state == "intake"
    with pytest.raises(GuardFailed, match="assessment"):
        cases.fire_trigger(me, case.id, "refer")
    cases.save_assessment(me, case.id, COMPLETE_ASSESSMENT)
    cases.fire_trigger(me, case.id, "refer")
    db.session.refresh(case)
    assert case.state == "referred" and case.pending_sign_off is not None
    cases.decide_sign_off(boss, case.pending_sign_off.id, {"decision": "approve"})
    db.session.refresh(case)
    assert case.state == "confirmed" and case.closed_at is not None
