"""The built wheel is Caseflow: installed into an empty virtual environment and run from
another folder, it migrates a fresh SQLite database, seeds the demo, serves pages through
`caseflow serve` (gunicorn), and a setting it cannot use is one line and a non-zero exit.
Slow (builds and installs): marked `deploy`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.deploy


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with only the built wheel (and its dependencies) in it.

    The environment gets no pip of its own (ensurepip costs seconds): this run's pip installs
    into it (`pip --python`), resolving the wheel's dependencies as any installation does.
    Nothing is byte-compiled ahead (most of an install's time): what runs is compiled when first
    imported, and kept (`_env` lets Python write its bytecode caches, as an installation does)."""
    work = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(work / "dist"), str(ROOT)])
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((work / "dist").glob("caseflow-*.whl"))
    venv = work / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    install = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-compile", str(wheel)])
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CASEFLOW_", "PROMETHEUS_")) and k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"CASEFLOW_INSTANCE_PATH": str(tmp_path / "instance"), "CASEFLOW_INSECURE_COOKIES": "1",
                  "CASEFLOW_WORKERS": "2"} | extra


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_wheel_carries_templates_workflows_migrations_and_compiled_catalogs(installed):
    package = next((installed / "lib").glob("python3*/site-packages/caseflow"))
    assert (package / "_bundled" / "templates" / "base.html").is_file()
    assert (package / "_bundled" / "workflows" / "rehabilitation.yaml").is_file()
    assert (package / "_bundled" / "migrations" / "env.py").is_file()
    assert list((package / "translations").glob("*/id/LC_MESSAGES/messages.mo"))
    assert (package / "static").is_dir() and (package / "seed" / "provinces.csv").is_file()


def test_installed_caseflow_migrates_seeds_and_serves_from_any_folder(installed, tmp_path):
    caseflow = str(installed / "bin" / "caseflow")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(tmp_path)
    helped = _run([caseflow, "--help"], cwd=elsewhere, env=env)
    assert helped.returncode == 0 and "seed-demo" in helped.stdout and "worker" in helped.stdout
    assert "serve" in helped.stdout and "check-config" in helped.stdout
    for args in (["db", "upgrade", "heads"], ["seed-demo"]):
        done = _run([caseflow, *args], cwd=elsewhere, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "instance" / "caseflow.sqlite3").is_file()  # where it was told, not in the venv
    assert not list(installed.rglob("caseflow.sqlite3"))
    port = _free_port()
    server = subprocess.Popen([caseflow, "serve", "--bind", f"127.0.0.1:{port}"], cwd=elsewhere, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                status, body = _get(f"http://127.0.0.1:{port}/login")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200 and "Masuk" in body  # the Indonesian page: templates and catalogs
        status, body = _get(f"http://127.0.0.1:{port}/readyz")
        assert '"migrations":"ok"' in body.replace(" ", "")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_setting_it_cannot_use_is_one_line_and_a_non_zero_exit(installed, tmp_path):
    env = _env(tmp_path, CASEFLOW_WORKFLOWS_DIR=str(tmp_path / "missing"))
    failed = _run([str(installed / "bin" / "caseflow"), "--help"], cwd=tmp_path, env=env)
    assert failed.returncode == 2
    assert "cannot start" in failed.stderr and "Traceback" not in failed.stderr
