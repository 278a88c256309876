"""Where the application's files are: templates, the default workflows and the migrations.

In the source tree they are the top-level folders `templates/`, `workflows/` and
`migrations/` (the project's layout; their only copy). A built wheel carries a copy of
each inside the package, in `caseflow/_bundled/` (setup.py puts them there when it builds),
so an installed Caseflow runs from any folder. The bundled copy wins when it exists.
"""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text

PACKAGE = Path(__file__).resolve().parent
BUNDLED = PACKAGE / "_bundled"
SOURCE_TREE = PACKAGE.parent
FOLDERS = ("templates", "workflows", "migrations")


def folder(name: str) -> Path:
    """The folder `name` (one of FOLDERS): bundled in the package, or the source tree's."""
    if name not in FOLDERS:
        raise ValueError(f"not a folder of the application: {name!r}")
    bundled = BUNDLED / name
    return bundled if bundled.is_dir() else SOURCE_TREE / name



def migrations_at_head(session) -> bool:
    """Whether the database `session` reads has every migration of this version applied."""
    heads = set(ScriptDirectory(str(folder("migrations"))).get_heads())
    return set(session.execute(text("SELECT version_num FROM alembic_version")).scalars()) == heads
