"""An auditor checks an uploaded evidence package on a page, with the package alone:
the same checks and the same result as `caseflow audit verify-package`."""

from __future__ import annotations

import io

from sqlalchemy import event

from caseflow.audit.package import verify_package
from caseflow.extensions import db
from caseflow.services.context import Actor
from caseflow.services.evidence import export_case_package
from tests.support.packages import members, with_role_changed


def altered(package: bytes) -> bytes:
    """The package with one event's role changed, as a forger would."""
    return with_role_changed(package, 1, "supervisor")


def _upload(client, data: bytes, name: str = "bukti.zip"):
    return client.post("/audit/evidence/verify", data={"package": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_good_package_verifies_and_an_altered_one_is_named(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    package = export_case_package(Actor(user=team.auditor), case.id).data
    client = signed_in(team.auditor)
    assert client.get("/audit/evidence/verify").status_code == 200
    good = _upload(client, package)
    assert good.status_code == 200
    assert "Paket dapat diverifikasi" in good.text and "integrity-ok" in good.text
    assert "Ini kunci server ini." in good.text
    broken = _upload(client, altered(package))
    assert broken.status_code == 200 and "integrity-broken" in broken.text
    assert "Paket TIDAK dapat diverifikasi" in broken.text and "Sebuah peristiwa diubah" in broken.text
    # The same result as the command line verifier's.
    assert verify_package(package).ok and not verify_package(altered(package)).ok


def test_the_page_reads_no_audit_data_from_the_database(signed_in, team, make):
    case = make.case(team.facilitator, to="assessment")
    package = export_case_package(Actor(user=team.auditor), case.id).data
    client = signed_in(team.auditor)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert _upload(client, package).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert statements, "the listener saw the request's own queries (the signed-in user)"
    touched = [s for s in statements if any(t in s for t in ("audit_events", "audit_checkpoints", "cases"))]
    assert not touched, touched


def test_something_else_is_refused_at_the_field(signed_in, team):
    client = signed_in(team.auditor)
    nothing = client.post("/audit/evidence/verify", data={}, content_type="multipart/form-data")
    assert nothing.status_code == 422 and 'href="#f-package"' in nothing.text
    junk = _upload(client, b"not a zip", "foto.jpg")
    assert junk.status_code == 422 and "bukan paket bukti Caseflow" in junk.text


def test_only_auditors_verify_packages(signed_in, team):
    for user in (team.facilitator, team.supervisor, team.manager, team.admin):
        assert signed_in(user).get("/audit/evidence/verify").status_code == 403


def test_the_package_readme_speaks_indonesian_first(team, make):
    case = make.case(team.facilitator, to="assessment")
    readme = members(export_case_package(Actor(user=team.auditor), case.id).data)["README.txt"].decode()
    assert readme.startswith("Paket bukti Caseflow")
    assert "Cara memeriksa" in readme and "/audit/evidence/verify" in readme
    assert readme.index("Cara memeriksa") < readme.index("How to verify")
