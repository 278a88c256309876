"""Registers to import: rows of the import template, as a CSV file, uploaded on the page."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

from caseflow.transfers import imports

HEADER = ",".join(imports.COLUMN_NAMES)


def row(**overrides) -> dict[str, str]:
    """The template's example row, with no facilitator named, changed by `overrides`."""
    values = dict(zip(imports.COLUMN_NAMES, imports.template_rows()[1], strict=True))
    values["facilitator_username"] = ""
    values.update(overrides)
    return values


def csv_bytes(*rows: dict[str, str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(imports.COLUMN_NAMES)
    writer.writerows([[r[c] for c in imports.COLUMN_NAMES] for r in rows])
    return buffer.getvalue().encode()


def upload(client, name: str, data: bytes):
    return client.post("/imports/", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers={"Accept-Language": "en"})


def xlsx_bytes(rows) -> bytes:
    """A workbook whose first sheet holds `rows` (lists of cell values)."""
    workbook = Workbook()
    for values in rows:
        workbook.active.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
