"""Safe defaults: what production gets when nothing is configured."""

from __future__ import annotations

import pytest

from caseflow.config import load_config


def test_defaults_are_safe(tmp_path, monkeypatch):
    for name in ("CASEFLOW_DATABASE_URL", "CASEFLOW_SECRET_KEY", "CASEFLOW_ARGON2_TIME_COST",
                 "CASEFLOW_ARGON2_MEMORY_KIB", "CASEFLOW_INSECURE_COOKIES"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(str(tmp_path))
    assert config["CASEFLOW_ARGON2_TIME_COST"] == 2 and config["CASEFLOW_ARGON2_MEMORY_KIB"] == 19 * 1024
    assert config["SESSION_COOKIE_SECURE"] and config["SESSION_COOKIE_HTTPONLY"]
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///") and str(tmp_path) in config["SQLALCHEMY_DATABASE_URI"]
    # the secret key is generated once, kept in the instance folder, and reused
    assert len(config["SECRET_KEY"]) >= 40
    assert load_config(str(tmp_path))["SECRET_KEY"] == config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_urls_use_psycopg_3(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", "postgres://u@h/db")
    assert load_config(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_stored_hashes_verify_whatever_the_current_cost(app, team):
    from caseflow.services.users import _hasher_for, password_matches
    from tests.support.factories import PASSWORD

    strong, _ = _hasher_for(2, 19 * 1024)
    team.facilitator.password_hash = strong.hash(PASSWORD)
    assert password_matches(team.facilitator, PASSWORD)


def test_no_proxy_is_trusted_unless_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("CASEFLOW_TRUSTED_PROXIES", raising=False)
    assert load_config(str(tmp_path))["CASEFLOW_TRUSTED_PROXIES"] == 0
    monkeypatch.setenv("CASEFLOW_TRUSTED_PROXIES", "1")
    assert load_config(str(tmp_path))["CASEFLOW_TRUSTED_PROXIES"] == 1
    for wrong in ("-1", "yes", "²"):
        monkeypatch.setenv("CASEFLOW_TRUSTED_PROXIES", wrong)
        with pytest.raises(ValueError, match="CASEFLOW_TRUSTED_PROXIES"):
            load_config(str(tmp_path))
