"""Sign-in throttling: an exact limit per account, a slowdown per address.

Per account (CASEFLOW_LOGIN_LIMIT_ACCOUNT, "5 per 15 minutes"): once an account has that
many failed sign-ins in the window, every further attempt — even with the right password —
gets a clear "wait and try again" page (429) until the window has passed. The limit is
exact under concurrency: each attempt takes its place in the account's counter (one
atomic increment: INCRBY in Redis, a locked counter in memory) *before* the password is
checked, and gives it back when the password was right. Ten guesses sent at once against
a limit of five get five checks, not seven.

Per address (CASEFLOW_LOGIN_LIMIT_ADDRESS, "30 per 15 minutes"): an address is never
locked out, because one office behind one NAT shares it and anyone could lock that office
out. Once the address has had that many failed sign-ins in the window, each attempt from
it first waits CASEFLOW_LOGIN_ADDRESS_DELAY_SECONDS (2) and is then checked as usual: the
right password still signs in, a script guessing across many accounts is slowed down.
The address is the connection's, or — only with CASEFLOW_TRUSTED_PROXIES set — the one
the trusted proxy put in X-Forwarded-For.

Counters live in RATELIMIT_STORAGE_URI: Redis when configured (several workers share
them), memory otherwise (one process). When that storage cannot be reached, the counters
of the worker's own memory are used instead (a warning is logged, /healthz says the storage
is unreachable): sign-in keeps working and keeps being throttled, per worker.

Every failed and successful sign-in is audited by the sign-in view itself; refused
attempts are not written one by one, so a flood cannot fill the audit trail.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from flask import Flask, current_app, make_response, render_template, request
from flask_babel import gettext as _
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

DEFAULT_ACCOUNT_LIMIT = "5 per 15 minutes"
DEFAULT_ADDRESS_LIMIT = "30 per 15 minutes"
DEFAULT_ADDRESS_DELAY_SECONDS = 2.0
# After the shared storage failed, it is tried again after this long (not on every
# attempt, which would make each sign-in wait for a connection timeout).
RETRY_STORAGE_AFTER_SECONDS = 30.0
# How long a sign-in waits for Redis before using the worker's own counters.
STORAGE_TIMEOUT_SECONDS = 1.0

# The pause before checking a password from a slowed address; tests replace it.
pause: Callable[[float], None] = time.sleep


@dataclass
class Counters:
    """The shared counters and the worker's own, used while the shared ones are away."""

    primary: Storage
    fallback: MemoryStorage = field(default_factory=MemoryStorage)
    failed_at: float | None = None

    def _storages(self) -> list[Storage]:
        if self.failed_at is not None and time.monotonic() - self.failed_at < RETRY_STORAGE_AFTER_SECONDS:
            return [self.fallback]
        return [self.primary, self.fallback]

    def _run(self, work: Callable[[FixedWindowRateLimiter], object]):
        for storage in self._storages():
            try:
                result = work(FixedWindowRateLimiter(storage))
            except Exception:  # noqa: BLE001 - any failure of the shared storage: use our own
                if storage is self.fallback:
                    raise
                if self.failed_at is None:
                    current_app.logger.warning(
                        "sign-in throttling: %s unreachable, using this worker's counters", _uri())
                self.failed_at = time.monotonic()
                continue
            if storage is self.primary:
                self.failed_at = None
            return result
        raise AssertionError("unreachable")

    def take(self, item: RateLimitItem, key: str) -> bool:
        """Atomically count one attempt; False when that goes beyond the limit."""
        return self._run(lambda strategy: strategy.hit(item, key))

    def give_back(self, item: RateLimitItem, key: str) -> None:
        self._run(lambda strategy: strategy.storage.incr(item.key_for(key), item.get_expiry(), amount=-1))

    def count(self, item: RateLimitItem, key: str) -> int:
        return self._run(lambda strategy: item.amount - strategy.get_window_stats(item, key).remaining)

    def reset_at(self, item: RateLimitItem, key: str) -> float:
        return self._run(lambda strategy: strategy.get_window_stats(item, key).reset_time)

    def reachable(self) -> bool:
        """Whether the shared storage answers now (memory always does)."""
        try:
            return bool(self.primary.check())
        except Exception:  # noqa: BLE001 - an unreachable storage is an answer, not an error
            return False

    def reset(self) -> None:
        for storage in (self.primary, self.fallback):
            try:
                storage.reset()
            except Exception:  # noqa: BLE001, S112 - nothing to reset in an unreachable storage
                continue


def _uri() -> str:
    return current_app.config.get("RATELIMIT_STORAGE_URI", "memory://")


def _counters() -> Counters:
    return current_app.extensions["caseflow.throttle"]


def _limit(name: str, default: str) -> RateLimitItem:
    return parse(current_app.config.get(name, default))


def _account_key() -> str:
    username = str(request.form.get("username") or "").strip().lower()[:64]
    return f"login-account:{username}"


def _address_key() -> str:
    return f"login-address:{request.remote_addr}"


def _locked_out(reset_at: float):
    minutes = max(1, math.ceil((reset_at - time.time()) / 60))
    message = _("Too many failed sign-in attempts for this account. "
                "Wait %(minutes)s minutes and try again, or ask your administrator.", minutes=minutes)
    return make_response(render_template("auth/login.html", error=message,
                                         username=request.form.get("username", ""), next=""), 429)


def throttle_login(view: Callable) -> Callable:
    """Wrap a sign-in view: its 401 answer is a failed attempt."""

    @wraps(view)
    def throttled(*args, **kwargs):
        if request.method != "POST" or not current_app.config.get("RATELIMIT_ENABLED", True):
            return view(*args, **kwargs)
        counters = _counters()
        per_account = _limit("CASEFLOW_LOGIN_LIMIT_ACCOUNT", DEFAULT_ACCOUNT_LIMIT)
        per_address = _limit("CASEFLOW_LOGIN_LIMIT_ADDRESS", DEFAULT_ADDRESS_LIMIT)
        account, address = _account_key(), _address_key()
        if counters.count(per_address, address) >= per_address.amount:
            pause(float(current_app.config.get("CASEFLOW_LOGIN_ADDRESS_DELAY_SECONDS",
                                               DEFAULT_ADDRESS_DELAY_SECONDS)))
        if not counters.take(per_account, account):
            return _locked_out(counters.reset_at(per_account, account))
        try:
            response = make_response(view(*args, **kwargs))
        except Exception:
            counters.give_back(per_account, account)
            raise
        if response.status_code == 401:
            counters.take(per_address, address)
        else:  # signed in, or not a password check at all: the place is given back
            counters.give_back(per_account, account)
        return response

    return throttled


def storage_reachable() -> bool:
    return _counters().reachable()


def reset() -> None:
    """Forget every count (tests, or an administrator after an incident)."""
    _counters().reset()


def init_app(app: Flask, endpoint: str = "auth.login") -> None:
    uri = app.config.get("RATELIMIT_STORAGE_URI", "memory://")
    options = {"key_prefix": app.config.get("RATELIMIT_KEY_PREFIX") or "caseflow-login"}
    if uri.startswith(("redis://", "rediss://", "valkey://")):
        options |= {"socket_connect_timeout": STORAGE_TIMEOUT_SECONDS, "socket_timeout": STORAGE_TIMEOUT_SECONDS}
    app.extensions["caseflow.throttle"] = Counters(primary=storage_from_string(uri, **options))
    app.view_functions[endpoint] = throttle_login(app.view_functions[endpoint])
