"""Developer tool for the catalogs: which user-facing strings lack an Indonesian text.

    python -m caseflow.i18n.tools missing            # list them
    python -m caseflow.i18n.tools missing --add web  # append them, untranslated, to the web area

Each area of the application keeps its own catalog folder under caseflow/translations/;
Flask-Babel merges them at run time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent.parent
TRANSLATIONS = ROOT / "caseflow" / "translations"
LOCALES = ("id", "en")


def extracted_messages() -> dict[str, list[str]]:
    """msgid → places it is used, over the code and templates."""
    with open(ROOT / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str, list[str]] = {}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def catalog_path(area: str, locale: str) -> Path:
    return TRANSLATIONS / area / locale / "LC_MESSAGES" / "messages.po"


def load_catalog(path: Path, locale: str) -> Catalog:
    if path.exists():
        with open(path, "rb") as handle:
            return read_po(handle, locale=locale)
    catalog = Catalog(locale=locale, project="caseflow")
    catalog.fuzzy = False  # a new catalog is not a draft: compile it
    return catalog


def translated_ids(locale: str = "id") -> set[str]:
    ids: set[str] = set()
    for path in TRANSLATIONS.glob(f"*/{locale}/LC_MESSAGES/messages.po"):
        for message in load_catalog(path, locale):
            if message.id and message.string:
                ids.add(message.id if isinstance(message.id, str) else message.id[0])
    return ids


def missing(locale: str = "id") -> dict[str, list[str]]:
    done = translated_ids(locale)
    return {msgid: places for msgid, places in extracted_messages().items() if msgid not in done}


def add_missing(area: str) -> int:
    todo = missing("id")
    for locale in LOCALES:
        path = catalog_path(area, locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = load_catalog(path, locale)
        for msgid, places in todo.items():
            if msgid not in catalog:
                catalog.add(msgid, string="", locations=[(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places[:3]])
        with open(path, "wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False)
    return len(todo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m caseflow.i18n.tools")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("missing", help="list strings without an Indonesian translation")
    cmd.add_argument("--add", metavar="AREA", help="append them to that area's catalogs")
    args = parser.parse_args(argv)
    if args.add:
        count = add_missing(args.add)
        print(f"{count} message(s) added to {catalog_path(args.add, 'id')}; fill in their msgstr")
        return 0
    todo = missing()
    for msgid, places in sorted(todo.items()):
        print(f"{places[0]}: {msgid!r}")
    print(f"{len(todo)} message(s) without an Indonesian translation", file=sys.stderr)
    return 1 if todo else 0


if __name__ == "__main__":
    sys.exit(main())
