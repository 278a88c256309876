"""The wheel carries what the application needs at run time besides its code.

The top-level `templates/`, `workflows/` and `migrations/` folders stay the only source
(the project's layout); building copies them into the package as `caseflow/_bundled/`
(`caseflow.resources` finds them there), and compiles every catalog of
`caseflow/translations/` into the `.mo` files Flask-Babel reads. Everything else is in
pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("templates", "workflows", "migrations")


def compile_catalogs(translations: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(translations.glob("*/*/LC_MESSAGES/messages.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parts[-3])
        with po.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog)


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the source tree itself
        package = Path(self.build_lib) / "caseflow"
        shutil.rmtree(package / "_bundled", ignore_errors=True)  # no file left from an older build
        for name in BUNDLED:
            shutil.copytree(ROOT / name, package / "_bundled" / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        compile_catalogs(package / "translations")


setup(cmdclass={"build_py": BuildWithData})
