"""Password policy: long enough, not common, not the account's own name.

The common list (common_passwords.txt beside this file) ships with the application and
is read once; nothing is fetched at run time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ..i18n import _l

MIN_LENGTH = 12
# Long passphrases are welcome; megabytes of "password" are a denial of service on argon2.
MAX_LENGTH = 256
COMMON_LIST = Path(__file__).with_name("common_passwords.txt")
# A common word with digits or symbols stuck on the end is still that word: "bismillah123!".
_DECORATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with open(COMMON_LIST, encoding="utf-8") as handle:
        return frozenset(
            line.strip().lower() for line in handle if line.strip() and not line.startswith("#")
        )


def is_common(password: str) -> bool:
    lowered = password.strip().lower()
    common = common_passwords()
    if lowered in common:
        return True
    stem = _DECORATION.sub("", lowered)
    return len(stem) >= 4 and stem in common


def password_problems(password: str, *, username: str | None = None,
                      full_name: str | None = None) -> list:
    """What is wrong with a new password (translatable messages); empty when it is fine."""
    if len(password) < MIN_LENGTH:
        return [_l("Use at least %(n)s characters.", n=MIN_LENGTH)]
    if len(password) > MAX_LENGTH:
        return [_l("Use at most %(n)s characters.", n=MAX_LENGTH)]
    problems = []
    lowered = password.lower()
    if len(set(lowered)) < 4:
        problems.append(_l("Use more different characters."))
    if is_common(password):
        problems.append(_l("This password is too common: it is among the passwords attackers try first."))
    names = [username or ""] + [part for part in (full_name or "").split() if len(part) >= 4]
    if any(name and len(name) >= 3 and name.lower() in lowered for name in names):
        problems.append(_l("Do not use your name or username in your password."))
    return problems
