"""Evidence packages: built for a case or a facilitator, verified standalone, and every
kind of tampering inside the ZIP is detected and named."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from caseflow.audit.chain import seal_event
from caseflow.audit.package import verify_package
from caseflow.database import utcnow
from caseflow.errors import NotAllowed, NotFound
from caseflow.extensions import db
from caseflow.models import AuditEvent
from caseflow.services import cases
from caseflow.services.audit import public_key_pem
from caseflow.services.context import Actor
from caseflow.services.evidence import (
    client_viewers,
    export_case_package,
    export_facilitator_package,
)
from tests.support.factories import a_step, today_for
from tests.support.packages import event_lines, members, rezip, with_events

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def case(make, team, prepared):
    return prepared("the packaged case", lambda: make.case(team.facilitator, to="evaluation"))


def test_case_package_holds_every_file_and_verifies(case, team):
    package = export_case_package(Actor(user=team.auditor), case.id)
    files = members(package.data)
    assert set(files) == {"README.txt", "manifest.json", "manifest.sig", "public_key.pem",
                          "checkpoints.json", "people.csv", "events.jsonl"}
    assert files["public_key.pem"].decode() == public_key_pem()
    lines = event_lines(files)
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert {e["chain"] for e in lines} == {f"case:{case.id}"}
    assert "fac" in files["people.csv"].decode()
    report = verify_package(package.data, public_key_pem())
    assert report.ok, report.problems
    assert report.events == len(lines) and report.checkpoints >= 1
    assert report.unsealed == {}  # exporting sealed the heads first
    assert package.filename.startswith(f"caseflow-evidence-case-{case.number}")


def test_exporting_a_package_is_audited(case, team):
    package = export_case_package(Actor(user=team.auditor), case.id)
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "evidence.exported")).scalar_one()
    assert event.actor_id == team.auditor.id and event.case_id == case.id
    assert event.context["sha256"] == package.sha256


def test_only_an_auditor_in_scope_may_export(case, team):
    with pytest.raises(NotAllowed):
        export_case_package(Actor(user=team.supervisor), case.id)
    with pytest.raises(NotAllowed):
        export_case_package(Actor(user=team.facilitator), case.id)
    with pytest.raises(NotFound):
        export_case_package(Actor(user=team.province_auditor), case.id)  # scope 53, case in 91


def test_events_after_the_last_checkpoint_are_reported_not_yet_sealed(case, team):
    export_case_package(Actor(user=team.auditor), case.id)  # seals
    cases.log_step(Actor(user=team.facilitator), case.id, a_step())
    package = export_case_package(Actor(user=team.auditor), case.id, seal=False)
    report = verify_package(package.data)
    assert report.ok, report.problems
    last = max(e["seq"] for e in event_lines(members(package.data)))
    assert report.unsealed == {f"case:{case.id}": (last, last)}


def test_facilitator_package_has_full_chains_and_marks_the_facilitators_events(make, team):
    first = make.case(team.facilitator, to="planning")
    second = make.case(team.facilitator, to="recorded")
    cases.record_case_view(Actor(user=team.supervisor), first.id)  # someone else's event in the chain
    today = utcnow().date()
    package = export_facilitator_package(Actor(user=team.auditor), team.facilitator.id,
                                         today - timedelta(days=1), today + timedelta(days=1))
    lines = event_lines(members(package.data))
    chains = {e["chain"] for e in lines}
    assert {f"case:{first.id}", f"case:{second.id}"} <= chains
    mine = [e for e in lines if e["in_scope"]]
    others = [e for e in lines if not e["in_scope"]]
    assert mine and all(e["actor_id"] == team.facilitator.id for e in mine)
    assert any(e["actor_id"] == team.supervisor.id for e in others)
    report = verify_package(package.data, public_key_pem())
    assert report.ok, report.problems
    assert report.in_scope_events == len(mine)


def test_facilitator_package_outside_the_period_marks_nothing(make, team):
    make.case(team.facilitator, to="assessment")
    long_ago = utcnow().date() - timedelta(days=400)
    package = export_facilitator_package(Actor(user=team.auditor), team.facilitator.id,
                                         long_ago, long_ago + timedelta(days=10))
    assert verify_package(package.data).ok
    assert not any(e.get("in_scope") for e in event_lines(members(package.data)))


def test_facilitator_of_another_province_is_unknown_to_a_province_auditor(team):
    today = utcnow().date()
    with pytest.raises(NotFound):
        export_facilitator_package(Actor(user=team.province_auditor), team.facilitator.id, today, today)


# --- tampering inside the ZIP ---------------------------------------------------------


@pytest.fixture
def package_files(case, team):
    return members(export_case_package(Actor(user=team.auditor), case.id).data)


def test_altered_event_is_named(package_files):
    events = event_lines(package_files)
    events[2]["actor_role"] = "supervisor"
    report = verify_package(rezip(with_events(package_files, events)))
    assert not report.ok
    assert "altered" in report.kinds() and "file" in report.kinds()
    assert any(p.kind == "altered" and p.seq == 3 for p in report.problems)


def test_altered_payload_is_named(package_files):
    events = event_lines(package_files)
    target = next(e for e in events if e["after"])
    target["after"] = {"state": "resolved"}
    report = verify_package(rezip(with_events(package_files, events)))
    assert any(p.kind == "altered" and p.seq == target["seq"] for p in report.problems)


def test_removed_event_is_named(package_files):
    events = event_lines(package_files)
    del events[3]
    report = verify_package(rezip(with_events(package_files, events)))
    assert any(p.kind == "removed" and "#4 is missing" in p.message for p in report.problems)


def test_removed_last_events_are_named(package_files):
    events = event_lines(package_files)
    report = verify_package(rezip(with_events(package_files, events[:-2])))
    assert "truncated" in report.kinds()


def test_inserted_event_with_a_valid_hash_is_named(package_files):
    events = event_lines(package_files)
    before = events[2]
    forged = {**before, "seq": before["seq"] + 1, "prev_hash": before["hash"], "action": "step.logged",
              "after": {"notes": "kunjungan palsu"}, "before": None, "context": None}
    seal_event(forged)
    renumbered = [*events[:3], forged, *[{**e, "seq": e["seq"] + 1} for e in events[3:]]]
    report = verify_package(rezip(with_events(package_files, renumbered)))
    assert not report.ok
    assert "inserted" in report.kinds()


def test_reordered_lines_are_named(package_files):
    events = event_lines(package_files)
    events[3], events[4] = events[4], events[3]
    report = verify_package(rezip(with_events(package_files, events)))
    assert any(p.kind == "reordered" and p.seq == 4 for p in report.problems)


def test_reordered_and_renumbered_events_are_named(package_files):
    events = event_lines(package_files)
    events[3], events[4] = {**events[4], "seq": 4}, {**events[3], "seq": 5}
    report = verify_package(rezip(with_events(package_files, events)))
    assert "reordered" in report.kinds()


def test_swapped_public_key_is_named(package_files):
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    report = verify_package(rezip({**package_files, "public_key.pem": other}))
    assert "key" in report.kinds() and "signature" in report.kinds()


def test_package_re_signed_with_another_key_is_refused_against_the_trusted_key(package_files):
    """A forger who rewrites everything and signs with their own key makes a consistent
    package; the server key the auditor trusts tells it apart."""
    from caseflow.audit.package import key_fingerprint

    forger = Ed25519PrivateKey.generate()
    pem = forger.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    import base64
    import hashlib

    checkpoints = json.loads(package_files["checkpoints.json"])
    for checkpoint in checkpoints:
        checkpoint["public_key"] = pem
        checkpoint["signature"] = base64.b64encode(forger.sign(checkpoint["digest"].encode())).decode()
    files = {**package_files, "public_key.pem": pem.encode(),
             "checkpoints.json": json.dumps(checkpoints).encode()}
    manifest = json.loads(files["manifest.json"])
    manifest["public_key_sha256"] = key_fingerprint(pem)
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256(files[name]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    files["manifest.sig"] = base64.b64encode(forger.sign(files["manifest.json"]))
    assert verify_package(rezip(files)).ok  # consistent on its own…
    report = verify_package(rezip(files), public_key_pem())
    assert [p.kind for p in report.problems] == ["key"]  # …but not signed by the server


def test_altered_checkpoint_is_named(package_files):
    checkpoints = json.loads(package_files["checkpoints.json"])
    checkpoints[-1]["entries"][0][2] = "0" * 64
    report = verify_package(rezip({**package_files, "checkpoints.json": json.dumps(checkpoints).encode()}))
    assert "checkpoint" in report.kinds()


def test_added_and_removed_files_are_named(package_files):
    files = {**package_files, "extra.txt": b"hello"}
    del files["people.csv"]
    report = verify_package(rezip(files))
    messages = " ".join(p.message for p in report.problems)
    assert "extra.txt" in messages and "people.csv" in messages


def test_scope_marks_cannot_be_moved(make, team):
    make.case(team.facilitator, to="assessment")
    today = today_for(team.facilitator)  # the package's days are the facilitator's (WIT)
    files = members(export_facilitator_package(Actor(user=team.auditor), team.facilitator.id, today, today).data)
    events = event_lines(files)
    events[0]["in_scope"] = not events[0]["in_scope"]
    report = verify_package(rezip(with_events(files, events)))
    assert "scope" in report.kinds()


# --- the verifier as a command ---------------------------------------------------------


def test_cli_verifies_and_exits_by_outcome(app, case, team, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "case.zip"
    exported = runner.invoke(args=["audit", "export-case", case.number, "--as", team.auditor.username,
                                   "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    key = tmp_path / "server.pem"
    key.write_text(public_key_pem())
    ok = runner.invoke(args=["audit", "verify-package", str(out), "--public-key", str(key)])
    assert ok.exit_code == 0, ok.output
    assert "OK: no file was changed" in ok.output

    files = members(out.read_bytes())
    events = event_lines(files)
    events[1]["origin_ip"] = "10.6.6.6"
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(rezip(with_events(files, events)))
    broken = runner.invoke(args=["audit", "verify-package", str(tampered)])
    assert broken.exit_code == 1
    assert "altered" in broken.output

    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip")
    assert runner.invoke(args=["audit", "verify-package", str(garbage)]).exit_code == 2


def test_verifier_runs_without_flask_or_sqlalchemy(case, team, tmp_path):
    """Only the package, the standard library and cryptography: Flask and SQLAlchemy are
    made unimportable, and the audit modules are loaded without the application package."""
    path = tmp_path / "case.zip"
    path.write_bytes(export_case_package(Actor(user=team.auditor), case.id).data)
    script = f"""
import importlib.util, sys
for name in ("flask", "sqlalchemy", "flask_sqlalchemy", "flask_babel"):
    sys.modules[name] = None
spec = importlib.util.spec_from_file_location(
    "standalone_audit", {str(ROOT / "caseflow/audit/__init__.py")!r},
    submodule_search_locations=[{str(ROOT / "caseflow/audit")!r}])
module = importlib.util.module_from_spec(spec)
sys.modules["standalone_audit"] = module
spec.loader.exec_module(module)
from standalone_audit.package import main
sys.exit(main([{str(path)!r}]))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_checkpoint_every_seals_in_a_loop(app, case):
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint", "--every", "1", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.count("chain heads sealed") == 1  # the second round had nothing new


# --- who has seen a client's data -----------------------------------------------------


def test_auditor_lists_who_has_seen_a_clients_data(make, team):
    case = make.case(team.facilitator, to="assessment")
    cases.record_case_view(Actor(user=team.supervisor, origin_ip="10.1.2.3"), case.id)
    cases.record_case_view(Actor(user=team.facilitator), case.id, what="assessment")
    export_case_package(Actor(user=team.auditor), case.id)
    client, sightings = client_viewers(Actor(user=team.auditor), case.client_id)
    assert client.id == case.client_id
    assert [s.action for s in sightings][0] == "evidence.exported"
    seen_by = {(s.actor_username, s.action) for s in sightings}
    assert ("sup", "case.viewed") in seen_by and ("fac", "case.viewed") in seen_by
    assert any(s.origin_ip == "10.1.2.3" for s in sightings)


def test_only_auditors_in_scope_see_who_has_seen_a_client(make, team):
    case = make.case(team.facilitator)
    with pytest.raises(NotAllowed):
        client_viewers(Actor(user=team.supervisor), case.client_id)
    with pytest.raises(NotFound):
        client_viewers(Actor(user=team.province_auditor), case.client_id)
