"""Imported before any conftest: the suite keeps Python's compiled modules.

With PYTHONDONTWRITEBYTECODE set (some shells set it) nothing is ever cached, so each run,
each xdist worker and each subprocess a test starts (the deployed stack, the crash workers,
the CLI) compiles caseflow and the test modules again, and pytest rewrites the asserts of
every module of its plugins (hypothesis, schemathesis: some 260) again: about 10 s of CPU per
process. The caches live in the ignored __pycache__ folders. Unset here, before the workers
and subprocesses are started, they inherit it unset."""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
