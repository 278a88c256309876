"""Settings from the environment, with safe defaults.

Nothing secret is a literal here: a secret key that is not given is generated once and
kept in the instance folder, so restarts keep sessions valid and no two installations
share a key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from . import resources


def _instance_secret(instance_path: Path, filename: str, nbytes: int = 48) -> str:
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL: two workers starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _count(text: str, name: str) -> int:
    value = int(text) if text.strip().isascii() and text.strip().isdigit() else -1
    if value < 0:
        raise ValueError(f"{name} must be a whole number, 0 or more (got {text!r})")
    return value


def read_config_file(path: str) -> dict[str, str]:
    """`NAME=value` lines (the format of systemd's EnvironmentFile): blank lines and lines
    starting with # are skipped, quotes around a value are removed."""
    values = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name, value = name.strip().removeprefix("export ").strip(), value.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"{path}, line {number}: expected NAME=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def environment() -> dict[str, str]:
    """The settings: the file CASEFLOW_CONFIG_FILE names (if any), overridden by the
    process environment. The file's values join the environment, so every part of the
    application that reads a setting from it (field keys, say) sees them."""
    path = os.environ.get("CASEFLOW_CONFIG_FILE")
    for name, value in (read_config_file(path) if path else {}).items():
        os.environ.setdefault(name, value)
    return dict(os.environ)


def instance_path(env: dict[str, str] | None = None) -> str:
    """CASEFLOW_INSTANCE_PATH, or `instance` in the current folder: never inside the
    package or the virtual environment (Flask's own default for an installed package)."""
    env = environment() if env is None else env
    return os.path.abspath(env.get("CASEFLOW_INSTANCE_PATH") or "instance")


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    instance = Path(instance_path)
    overrides = dict(overrides or {})
    env = environment()
    database_url = overrides.pop("SQLALCHEMY_DATABASE_URI", None) or env.get(
        "CASEFLOW_DATABASE_URL"
    )
    if not database_url:
        instance.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance / 'caseflow.sqlite3'}"
    config = {
        "SECRET_KEY": env.get("CASEFLOW_SECRET_KEY") or _instance_secret(instance, "secret_key"),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        # No ping at every checkout: on PostgreSQL a connection that waited in the pool is
        # pinged (database.configure_engine); an hour old, it is replaced at its next checkout.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 3600},
        "CASEFLOW_WORKFLOWS_DIR": env.get("CASEFLOW_WORKFLOWS_DIR", str(resources.folder("workflows"))),
        "CASEFLOW_AUDIT_KEY_PATH": env.get(
            "CASEFLOW_AUDIT_KEY_PATH", str(instance / "audit_signing_key.pem")
        ),
        # Every checkpoint sealed is also a line here, outside the database: a database put
        # back to an older copy no longer holds them, and `caseflow audit verify` says so.
        "CASEFLOW_CHECKPOINT_LOG": env.get(
            "CASEFLOW_CHECKPOINT_LOG", str(instance / "audit_checkpoints.log")
        ),
        "CASEFLOW_SQLITE_BUSY_TIMEOUT_MS": int(env.get("CASEFLOW_SQLITE_BUSY_TIMEOUT_MS", "10000")),
        # argon2id cost: OWASP's recommendation (19 MiB, 2 iterations).
        "CASEFLOW_ARGON2_TIME_COST": int(env.get("CASEFLOW_ARGON2_TIME_COST", "2")),
        "CASEFLOW_ARGON2_MEMORY_KIB": int(env.get("CASEFLOW_ARGON2_MEMORY_KIB", str(19 * 1024))),
        "CASEFLOW_IDLE_TIMEOUT_MINUTES": int(env.get("CASEFLOW_IDLE_TIMEOUT_MINUTES", "30")),
        # Closed cases older than this are anonymised by `caseflow privacy anonymise`.
        "CASEFLOW_RETENTION_DAYS": int(env.get("CASEFLOW_RETENTION_DAYS", str(10 * 365))),
        "CASEFLOW_ABSOLUTE_TIMEOUT_HOURS": int(env.get("CASEFLOW_ABSOLUTE_TIMEOUT_HOURS", "12")),
        # Case-list exports longer than this many rows are prepared by a background job with a
        # progress bar; the file waits for its owner this many hours, then it is deleted.
        "CASEFLOW_EXPORT_JOB_ROWS": int(env.get("CASEFLOW_EXPORT_JOB_ROWS", "2000")),
        "CASEFLOW_EXPORT_KEEP_HOURS": int(env.get("CASEFLOW_EXPORT_KEEP_HOURS", "24")),
        # How many export jobs one person may have being prepared at once.
        "CASEFLOW_EXPORT_JOBS_PER_USER": int(env.get("CASEFLOW_EXPORT_JOBS_PER_USER", "2")),
        # Register imports: a spreadsheet is refused before anything is built from it when it
        # is larger, unpacks to more, or holds more rows or columns than this.
        "CASEFLOW_IMPORT_MAX_FILE_MB": int(env.get("CASEFLOW_IMPORT_MAX_FILE_MB", "10")),
        "CASEFLOW_IMPORT_MAX_UNPACKED_MB": int(env.get("CASEFLOW_IMPORT_MAX_UNPACKED_MB", "32")),
        "CASEFLOW_IMPORT_MAX_RATIO": int(env.get("CASEFLOW_IMPORT_MAX_RATIO", "100")),
        "CASEFLOW_IMPORT_MAX_ROWS": int(env.get("CASEFLOW_IMPORT_MAX_ROWS", "20000")),
        "CASEFLOW_IMPORT_MAX_COLUMNS": int(env.get("CASEFLOW_IMPORT_MAX_COLUMNS", "50")),
        # NIKs registered outside a person's reach they may run into in 24 hours (services/duplicates.py).
        "CASEFLOW_NIK_CHECKS_PER_DAY": int(env.get("CASEFLOW_NIK_CHECKS_PER_DAY", "20")),
        # A step (and a goal's target date) may lie this many days before its case was
        # recorded: work written on paper first and entered later.
        "CASEFLOW_STEP_BACKDATE_TOLERANCE_DAYS": int(env.get("CASEFLOW_STEP_BACKDATE_TOLERANCE_DAYS", "30")),
        # Work done on a tablet this many days before it reached the server is marked for
        # the supervisor's review; a last sync older than this is highlighted (services/sync_health.py).
        "CASEFLOW_SYNC_REVIEW_DAYS": int(env.get("CASEFLOW_SYNC_REVIEW_DAYS", "3")),
        # The task queue (caseflow.queue): empty for an SQLite file in the instance folder,
        # redis://host:6379/1 when several servers share the work.
        "CASEFLOW_TASKS_URL": env.get("CASEFLOW_TASKS_URL", ""),
        # A running import or export that reported nothing for this long lost its worker.
        "CASEFLOW_JOB_STALE_MINUTES": int(env.get("CASEFLOW_JOB_STALE_MINUTES", "30")),
        # "json": one JSON object per log line; "text": plain lines; empty: Flask's default.
        "CASEFLOW_LOG_FORMAT": env.get("CASEFLOW_LOG_FORMAT", ""),
        # Bearer token Prometheus sends to /metrics; unset: no metrics served.
        "CASEFLOW_METRICS_TOKEN": env.get("CASEFLOW_METRICS_TOKEN", ""),
        "RATELIMIT_STORAGE_URI": env.get("CASEFLOW_RATELIMIT_STORAGE_URL", "memory://"),
        # Sign-in throttling (caseflow/security/throttle.py): failures that lock an account
        # for the rest of the window, and failures from one address after which each attempt
        # from it waits a little (an address is never locked: one office shares one NAT).
        "CASEFLOW_LOGIN_LIMIT_ACCOUNT": env.get("CASEFLOW_LOGIN_LIMIT_ACCOUNT", "5 per 15 minutes"),
        "CASEFLOW_LOGIN_LIMIT_ADDRESS": env.get("CASEFLOW_LOGIN_LIMIT_ADDRESS", "30 per 15 minutes"),
        "CASEFLOW_LOGIN_ADDRESS_DELAY_SECONDS": float(env.get("CASEFLOW_LOGIN_ADDRESS_DELAY_SECONDS", "2")),
        # How many reverse proxies stand in front of the application. 0: X-Forwarded-For and
        # X-Forwarded-Proto are ignored (anyone could write them); N: the addresses and scheme
        # the N proxies appended are trusted (Werkzeug's ProxyFix).
        "CASEFLOW_TRUSTED_PROXIES": _count(env.get("CASEFLOW_TRUSTED_PROXIES", "0"), "CASEFLOW_TRUSTED_PROXIES"),
        # The letterhead of printed documents (reports/letterhead.py; or instance/letterhead.yaml).
        **{f"CASEFLOW_LETTERHEAD_{key}": env.get(f"CASEFLOW_LETTERHEAD_{key}", "")
           for key in ("MINISTRY", "OFFICE", "ADDRESS", "CITY", "LEGAL_BASIS", "LOGO")},
        "BABEL_DEFAULT_LOCALE": "id",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("CASEFLOW_INSECURE_COOKIES", "") != "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": int(env.get("CASEFLOW_MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        "WTF_CSRF_TIME_LIMIT": None,
    }
    config.update(overrides)
    return config


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator gave."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
