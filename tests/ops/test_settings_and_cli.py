"""Settings from an optional file under the environment; the task commands."""

from __future__ import annotations

import pytest

from caseflow import queue
from caseflow.config import environment, instance_path, load_config, read_config_file


def test_a_settings_file_fills_in_what_the_environment_does_not_say(tmp_path, monkeypatch):
    settings = tmp_path / "caseflow.env"
    settings.write_text("# comment\n\nCASEFLOW_EXPORT_KEEP_HOURS=6\nexport CASEFLOW_LOG_FORMAT='json'\n"
                        'CASEFLOW_TASKS_URL="redis://127.0.0.1:6379/1"\n')
    monkeypatch.setenv("CASEFLOW_CONFIG_FILE", str(settings))
    monkeypatch.setenv("CASEFLOW_EXPORT_KEEP_HOURS", "12")  # the environment wins
    for name in ("CASEFLOW_LOG_FORMAT", "CASEFLOW_TASKS_URL"):
        monkeypatch.setenv(name, "")  # so that what the file adds to os.environ is taken back after
        monkeypatch.delenv(name)
    config = load_config(str(tmp_path))
    assert config["CASEFLOW_EXPORT_KEEP_HOURS"] == 12
    assert config["CASEFLOW_LOG_FORMAT"] == "json" and config["CASEFLOW_TASKS_URL"] == "redis://127.0.0.1:6379/1"
    assert environment()["CASEFLOW_LOG_FORMAT"] == "json"  # seen by whatever reads os.environ too


def test_a_line_that_is_not_a_setting_is_named(tmp_path):
    settings = tmp_path / "caseflow.env"
    settings.write_text("CASEFLOW_BIND=127.0.0.1:8000\nthis is not a setting\n")
    with pytest.raises(ValueError, match="line 2"):
        read_config_file(str(settings))


def test_the_instance_folder_is_the_one_given_or_instance_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert instance_path({}) == str(tmp_path / "instance")
    assert instance_path({"CASEFLOW_INSTANCE_PATH": "/var/lib/caseflow"}) == "/var/lib/caseflow"


def test_tasks_status_exits_1_while_a_task_is_late_and_run_records_it(app):
    runner = app.test_cli_runner()
    late = runner.invoke(args=["tasks", "status"])
    assert late.exit_code == 1 and "LATE" in late.output
    for name in queue.PERIODIC:
        assert runner.invoke(args=["tasks", "run", name]).exit_code == 0
    done = runner.invoke(args=["tasks", "status"])
    assert done.exit_code == 0 and "LATE" not in done.output
