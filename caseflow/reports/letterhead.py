"""The letterhead of printed documents (kop surat): ministry, office, address, the city
documents are signed in, the legal basis line and a logo, as an office configures them.

Read from `letterhead.yaml` in the instance folder, each key overridden by a
`CASEFLOW_LETTERHEAD_<KEY>` setting (MINISTRY, OFFICE, ADDRESS, CITY, LEGAL_BASIS, LOGO).
The logo is a PNG or JPEG file name inside the instance folder; a missing one is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import current_app

KEYS = ("ministry", "office", "address", "city", "legal_basis", "logo")
DEFAULTS = {
    "ministry": "KEMENTERIAN SOSIAL REPUBLIK INDONESIA",
    "office": "DIREKTORAT JENDERAL REHABILITASI SOSIAL",
    "address": "Jl. Salemba Raya No. 28, Jakarta Pusat 10430",
    "city": "",
    "legal_basis": "Peraturan Menteri Sosial Nomor 16 Tahun 2019 tentang Standar Nasional Rehabilitasi Sosial",
    "logo": "",
}


@dataclass(frozen=True)
class Letterhead:
    ministry: str
    office: str
    address: str
    city: str  # where documents are signed; empty: the case's province
    legal_basis: str
    logo: Path | None


def current_letterhead() -> Letterhead:
    """The configured letterhead (file, then settings, then the ministry's defaults)."""
    instance = Path(current_app.instance_path)
    values = dict(DEFAULTS)
    source = instance / "letterhead.yaml"
    if source.is_file():
        loaded = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{source}: expected keys {', '.join(KEYS)}")
        values.update({k: str(v) for k, v in loaded.items() if k in KEYS and v is not None})
    for key in KEYS:
        setting = current_app.config.get(f"CASEFLOW_LETTERHEAD_{key.upper()}")
        if setting:
            values[key] = str(setting)
    logo = (instance / values["logo"]).resolve() if values["logo"] else None
    if logo is not None and (not logo.is_file() or instance.resolve() not in logo.parents):
        logo = None  # only a file inside the instance folder
    return Letterhead(values["ministry"], values["office"], values["address"], values["city"],
                      values["legal_basis"], logo)
