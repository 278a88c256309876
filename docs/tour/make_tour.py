"""Copy the screenshots of tests/browser/test_presentation.py into docs/tour/roles/, made
small (a 64-colour palette; very long pages cut at 2,400 px), with an index page.

    .venv/bin/python -m pytest tests/browser/test_presentation.py && .venv/bin/python docs/tour/make_tour.py
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCE = ROOT / "tests" / "browser" / "screenshots" / "presentation"
TARGET = Path(__file__).resolve().parent / "roles"
MAX_HEIGHT = 2400
ROLE_NAMES = {"pendamping": "Facilitator (pendamping)", "supervisor": "Supervisor", "auditor": "Auditor",
              "manajer": "Programme manager (manajer)", "admin": "Administrator"}


def main() -> None:
    TARGET.mkdir(exist_ok=True)
    shots: dict[str, dict[str, list[int]]] = {}
    for path in sorted(SOURCE.glob("*.png")):
        found = re.fullmatch(r"([a-z]+)-(.+)-(\d+)\.png", path.name)
        if not found:
            continue
        role, page, width = found.group(1), found.group(2), int(found.group(3))
        image = Image.open(path).convert("RGB")
        if image.height > MAX_HEIGHT:
            image = image.crop((0, 0, image.width, MAX_HEIGHT))
        image.quantize(colors=64).save(TARGET / path.name, optimize=True)
        shots.setdefault(role, {}).setdefault(page, []).append(width)
    lines = ["# Every main page of every role", "",
             "Made by `tests/browser/test_presentation.py` (Chromium, Bahasa Indonesia, the demo data) at "
             "390 px (phone), 800 px (tablet) and 1280 px (desktop); the test fails if a page scrolls sideways. "
             "Refresh with `docs/tour/make_tour.py`.", ""]
    for role in ROLE_NAMES:
        if role not in shots:
            continue
        lines += [f"## {ROLE_NAMES[role]}", ""]
        for page, widths in sorted(shots[role].items()):
            links = " · ".join(f"[{w} px]({role}-{page}-{w}.png)" for w in sorted(widths))
            lines.append(f"- {page}: {links}")
        lines.append("")
    (TARGET / "README.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
