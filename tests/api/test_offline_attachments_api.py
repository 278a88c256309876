"""Photos, documents and consent signatures from the tablet: queued in the outbox (a photo
following the step it documents), stored once under retries, encrypted on disk (no JPEG or
PDF header to be found), typed by their content and limited in size, shown exactly to those
who may open the case, named in the audit trail by their hash, removed by retention."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest

from caseflow.database import simulated_time, utcnow
from caseflow.models import Attachment
from caseflow.services import attachments as attachment_services
from caseflow.services.context import Actor
from caseflow.services.evidence import export_case_package
from caseflow.services.privacy import anonymise_closed_cases
from tests.support.clients import assert_problem
from tests.support.factories import a_step
from tests.support.queries import count, events

OUTBOX = "/api/v1/outbox"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40
PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 50


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def _photo_after_a_step(case, prefix: str = "") -> list[dict]:
    return [
        {"key": prefix + "step", "kind": "step", "case_id": case.id, "body": a_step(notes="Kunjungan berfoto")},
        {"key": prefix + "photo", "kind": "attachment", "case_id": case.id, "step_ref": prefix + "step",
         "body": {"purpose": "photo", "data": _b64(JPEG)}},
    ]


def test_a_photo_follows_its_step_is_stored_once_and_encrypted_on_disk(api_as, make, team):
    case = make.case(team.facilitator, to="intervention")
    api = api_as(team.facilitator)
    entries = _photo_after_a_step(case)
    results = api.post(OUTBOX, json={"entries": entries}).json["results"]
    assert [r["status"] for r in results] == [201, 201], results
    photo = results[1]["body"]
    assert photo["step_id"] == results[0]["body"]["id"] and photo["content_type"] == "image/jpeg"
    assert photo["sha256"] == hashlib.sha256(JPEG).hexdigest() and photo["size"] == len(JPEG)
    again = api.post(OUTBOX, json={"entries": entries}).json["results"]
    assert [r["replayed"] for r in again] == [True, True]
    assert count(Attachment, Attachment.case_id == case.id) == 1

    row = attachment_services.attachments_of(team.facilitator, case)[0]
    on_disk = (attachment_services.storage_dir() / row.storage_name).read_bytes()
    assert b"JFIF" not in on_disk and not on_disk.startswith(b"\xff\xd8") and JPEG[20:60] not in on_disk
    event = events("attachment.added", case_id=case.id)[0]
    assert event.after["sha256"] == photo["sha256"] and "data" not in event.after

    shown = api.get(f"/api/v1/attachments/{photo['id']}")
    assert shown.status_code == 200 and shown.data == JPEG and shown.mimetype == "image/jpeg"
    assert shown.headers["Cache-Control"] == "no-store"
    assert events("attachment.viewed", case_id=case.id)


@pytest.mark.parametrize("who, status", [("supervisor", 200), ("auditor", 200), ("other_facilitator", 404),
                                         ("other_supervisor", 404), ("province_auditor", 404),
                                         ("manager", 404), ("admin", 404), ("facilitator2", 404)])
def test_an_attachment_is_shown_exactly_to_those_who_may_open_the_case(api_as, make, team, who, status):
    case = make.case(team.facilitator, to="assessment")
    attachment = attachment_services.add_attachment(Actor(user=team.facilitator), case.id,
                                                    {"purpose": "document", "data": _b64(PDF)})
    response = api_as(getattr(team, who)).get(f"/api/v1/attachments/{attachment.id}")
    assert response.status_code == status
    listed = api_as(getattr(team, who)).get(f"/api/v1/cases/{case.id}/attachments")
    assert listed.status_code == status
    if status == 404:
        assert response.data != PDF and events("access.denied", actor_id=getattr(team, who).id)


def test_the_type_comes_from_the_content_and_the_size_is_limited(app, api_as, make, team):
    case = make.case(team.facilitator, to="assessment")
    api = api_as(team.facilitator)
    url = f"/api/v1/cases/{case.id}/attachments"
    pretending = api.post(url, json={"purpose": "photo", "data": _b64(b"<html>foto.jpg</html>")})
    assert_problem(pretending, 422, "data")
    assert_problem(api.post(url, json={"purpose": "photo", "data": "bukan base64!"}), 422, "data")
    assert_problem(api.post(url, json={"purpose": "consent_registration", "data": _b64(PDF)}), 422, "data")
    assert_problem(api.post(url, json={"purpose": "selfie", "data": _b64(JPEG)}), 422, "purpose")
    app.config["CASEFLOW_ATTACHMENT_MAX_BYTES"] = 1000
    try:
        assert_problem(api.post(url, json={"purpose": "photo", "data": _b64(JPEG)}), 422, "data")
    finally:
        app.config.pop("CASEFLOW_ATTACHMENT_MAX_BYTES")
    assert api.post(url, json={"purpose": "document", "data": _b64(PDF)}).status_code == 201
    assert count(Attachment, Attachment.case_id == case.id) == 1


def test_another_teams_case_or_step_is_refused(api_as, make, team):
    mine = make.case(team.facilitator, to="intervention")
    theirs = make.case(team.other_facilitator, to="evaluation")
    their_step = theirs.steps[0]
    api = api_as(team.facilitator)
    results = api.post(OUTBOX, json={"entries": [
        {"key": "a", "kind": "attachment", "case_id": theirs.id, "body": {"purpose": "photo", "data": _b64(JPEG)}},
        {"key": "b", "kind": "attachment", "case_id": mine.id,
         "body": {"purpose": "photo", "data": _b64(JPEG), "step_id": their_step.id}},
    ]}).json["results"]
    assert [r["status"] for r in results] == [404, 422]
    assert "step_id" in results[1]["body"]["errors"]
    assert count(Attachment) == 0
    auditor = api_as(team.auditor).post(f"/api/v1/cases/{mine.id}/attachments",
                                        json={"purpose": "photo", "data": _b64(JPEG)})
    assert auditor.status_code in (403, 404) and count(Attachment) == 0


def test_retention_removes_attachments_and_their_files(make, team):
    with simulated_time(utcnow() - timedelta(days=400)):
        case = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
        attachment = attachment_services.add_attachment(Actor(user=team.facilitator), case.id,
                                                        {"purpose": "consent_termination", "data": _b64(JPEG)})
    path = attachment_services.storage_dir() / attachment.storage_name
    assert path.exists()
    report = anonymise_closed_cases(Actor.cli(), older_than_days=365)
    assert report.clients == [case.client_id]
    assert count(Attachment, Attachment.case_id == case.id) == 0 and not path.exists()
    assert events("attachment.added", case_id=case.id)  # the trail keeps that it existed (by hash)


def test_the_evidence_package_names_an_attachment_by_its_hash_not_its_content(make, team):
    case = make.case(team.facilitator, to="assessment")
    attachment = attachment_services.add_attachment(Actor(user=team.facilitator), case.id,
                                                    {"purpose": "photo", "data": _b64(JPEG)})
    package = export_case_package(Actor(user=team.auditor), case.id, seal=False)
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        lines = archive.read("events.jsonl").decode().splitlines()
    added = [json.loads(line) for line in lines if '"attachment.added"' in line]
    assert [e["after"]["sha256"] for e in added] == [attachment.sha256]
    assert _b64(JPEG)[:200] not in "\n".join(lines)
