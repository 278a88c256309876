"""The consent signature drawn on the tablet, printed in the client's or guardian's block of
the case file and of the termination record, with the day it was captured under the name;
an empty signing line when there is none. Checked as a reader would: the images embedded
in the PDF (pdfimages, each signature made at its own size so it is told apart), its text
(pdftotext) and its rendering (pdftoppm)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from caseflow.database import utcnow
from caseflow.extensions import db
from caseflow.services import attachments as attachment_services
from caseflow.services.context import Actor
from tests.support.queries import events
from tests.web.test_documents import INDONESIAN_DATE, pdf_pages, pdf_text

pytestmark = pytest.mark.skipif(shutil.which("pdfimages") is None or shutil.which("pdftoppm") is None,
                                reason="poppler-utils (pdfimages, pdftotext, pdftoppm) not installed")

REGISTRATION_SIZE = (233, 71)
TERMINATION_SIZE = (251, 83)
SIGNED = re.compile(r"Ditandatangani di tablet pada " + INDONESIAN_DATE.pattern)


def signature_png(size: tuple[int, int]) -> bytes:
    """A scribble, as the tablet's signature pad sends it: dark strokes on transparency."""
    image = Image.new("RGBA", size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.line([(5, height - 10), (width // 4, 8), (width // 2, height - 8), (3 * width // 4, 10),
               (width - 5, height // 2)], fill=(10, 10, 60, 255), width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def attach_signature(team, case, purpose: str, size: tuple[int, int]):
    data = base64.b64encode(signature_png(size)).decode()
    return attachment_services.add_attachment(Actor(user=team.facilitator), case.id, {"purpose": purpose, "data": data})


def embedded_sizes(pdf: bytes, tmp_path: Path) -> list[tuple[int, int]]:
    """Width and height of every image embedded in the PDF (pdfimages -list)."""
    source = tmp_path / "images.pdf"
    source.write_bytes(pdf)
    listing = subprocess.run(["pdfimages", "-list", str(source)], check=True, capture_output=True, text=True).stdout
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    return [(int(row[3]), int(row[4])) for row in rows if row[2] == "image"]


def flat_text(pdf: bytes, tmp_path: Path) -> str:
    return " ".join(pdf_text(pdf, tmp_path).split())


def ink_in_client_block(pdf: bytes, tmp_path: Path) -> int:
    """Dark pixels in the signing space of the client's or guardian's block (the middle
    column, under its role line "Klien"/"Wali klien") on the rendered last page."""
    image = Image.open(pdf_pages(pdf, tmp_path)[-1]).convert("L")
    last_page = subprocess.run(["pdftotext", "-bbox", str(tmp_path / "render.pdf"), "-"], check=True,
                               capture_output=True, text=True).stdout.split("<page ")[-1]
    points_wide = float(re.search(r'width="([\d.]+)"', last_page).group(1))
    scale = image.size[0] / points_wide
    role_bottoms = [float(y_max) for x_min, y_max, word in re.findall(
        r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', last_page)
        if points_wide / 3 < float(x_min) < 2 * points_wide / 3 and word in ("Klien", "klien")]
    assert role_bottoms, "the client's block is on the last page"
    top = int((role_bottoms[0] + 2) * scale)
    space = image.crop((int(image.size[0] / 3) + 5, top, int(2 * image.size[0] / 3) - 5, top + int(40 * scale)))
    return sum(space.histogram()[:128])


def test_the_case_file_prints_the_registration_signature_with_the_name_and_day(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="evaluation")
    attachment = attach_signature(team, case, "consent_registration", REGISTRATION_SIZE)
    attach_signature(team, case, "photo", TERMINATION_SIZE)  # not a signature: never printed as one
    response = signed_in(team.supervisor).get(f"/reports/case/{case.id}/file.pdf")
    assert response.status_code == 200
    assert embedded_sizes(response.data, tmp_path).count(REGISTRATION_SIZE) == 1
    assert TERMINATION_SIZE not in embedded_sizes(response.data, tmp_path)
    flat = flat_text(response.data, tmp_path)
    assert case.client.full_name in flat and SIGNED.search(flat)
    assert ink_in_client_block(response.data, tmp_path) > 20, "the signature is drawn in the client's block"
    printed = [e for e in events("attachment.viewed", case_id=case.id)
               if (e.context or {}).get("printed_on") == "pdf:case_file"]
    assert [e.context["attachment_id"] for e in printed] == [attachment.id]


def test_without_a_signature_the_case_file_keeps_an_empty_signing_line(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="evaluation")
    attach_signature(team, case, "consent_termination", TERMINATION_SIZE)  # the case file wants registration's
    response = signed_in(team.facilitator).get(f"/reports/case/{case.id}/file.pdf")
    assert response.status_code == 200
    assert embedded_sizes(response.data, tmp_path).count(TERMINATION_SIZE) == 0
    flat = flat_text(response.data, tmp_path)
    assert case.client.full_name in flat and not SIGNED.search(flat)
    assert ink_in_client_block(response.data, tmp_path) < 20, "the signing space is left empty"


def test_the_termination_record_prefers_the_termination_signature(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    attach_signature(team, case, "consent_registration", REGISTRATION_SIZE)
    attach_signature(team, case, "consent_termination", TERMINATION_SIZE)
    response = signed_in(team.supervisor).get(f"/reports/case/{case.id}/termination.pdf")
    assert response.status_code == 200
    sizes = embedded_sizes(response.data, tmp_path)
    assert sizes.count(TERMINATION_SIZE) == 1 and REGISTRATION_SIZE not in sizes
    assert SIGNED.search(flat_text(response.data, tmp_path))


def test_the_termination_record_falls_back_to_the_registration_signature_then_to_a_line(signed_in, team, make,
                                                                                        tmp_path):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    bare = signed_in(team.supervisor).get(f"/reports/case/{case.id}/termination.pdf")
    assert bare.status_code == 200 and not SIGNED.search(flat_text(bare.data, tmp_path))
    assert REGISTRATION_SIZE not in embedded_sizes(bare.data, tmp_path)
    attach_signature(team, case, "consent_registration", REGISTRATION_SIZE)
    response = signed_in(team.supervisor).get(f"/reports/case/{case.id}/termination.pdf")
    assert embedded_sizes(response.data, tmp_path).count(REGISTRATION_SIZE) == 1


def test_a_guardians_signature_is_printed_under_the_guardians_name(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="evaluation")
    case.client.guardian_name = "Yosina Wenda"
    case.client.guardian_relationship = "ibu"
    db.session.commit()
    attach_signature(team, case, "consent_registration", REGISTRATION_SIZE)
    response = signed_in(team.facilitator).get(f"/reports/case/{case.id}/file.pdf")
    flat = flat_text(response.data, tmp_path)
    assert "Yosina Wenda" in flat and SIGNED.search(flat)
    assert embedded_sizes(response.data, tmp_path).count(REGISTRATION_SIZE) == 1


def test_an_undecided_termination_reads_no_signature(signed_in, team, make):
    case = make.case(team.facilitator, to="evaluation")
    attach_signature(team, case, "consent_registration", REGISTRATION_SIZE)
    response = signed_in(team.supervisor).get(f"/reports/case/{case.id}/termination.pdf")
    assert response.status_code != 200 and response.mimetype != "application/pdf"
    assert not events("attachment.viewed", case_id=case.id)


def test_an_anonymised_clients_signature_is_not_printed(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="evaluation")
    attach_signature(team, case, "consent_registration", REGISTRATION_SIZE)
    case.client.anonymised_at = utcnow()
    db.session.commit()
    response = signed_in(team.supervisor).get(f"/reports/case/{case.id}/file.pdf")
    assert response.status_code == 200
    assert REGISTRATION_SIZE not in embedded_sizes(response.data, tmp_path)
    assert not events("attachment.viewed", case_id=case.id)


def test_someone_who_may_not_open_the_case_gets_neither_document_nor_signature(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="evaluation")
    attach_signature(team, case, "consent_registration", REGISTRATION_SIZE)
    for outsider in (team.other_supervisor, team.other_facilitator):
        response = signed_in(outsider).get(f"/reports/case/{case.id}/file.pdf")
        assert response.status_code == 404 and b"PNG" not in response.data
    assert not events("attachment.viewed", case_id=case.id)


def test_an_altered_signature_file_prints_as_an_empty_line(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="evaluation")
    attachment = attach_signature(team, case, "consent_registration", REGISTRATION_SIZE)
    path = attachment_services.storage_dir() / attachment.storage_name
    path.write_bytes(path.read_bytes()[:-5] + b"xxxxx")
    response = signed_in(team.facilitator).get(f"/reports/case/{case.id}/file.pdf")
    assert response.status_code == 200
    assert REGISTRATION_SIZE not in embedded_sizes(response.data, tmp_path)
    assert not SIGNED.search(flat_text(response.data, tmp_path))
