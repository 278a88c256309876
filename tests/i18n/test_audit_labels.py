"""Audit histories in words: every event type the code records, every field an event
holds and every workflow stage and action has a label in both languages, and the case
history shows those labels (the stored codes only one click away)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from caseflow.devdata.demo import seed_demo_data
from caseflow.extensions import db
from caseflow.i18n import audit_labels
from caseflow.models import AccountChangeStatus, AuditEvent
from caseflow.services.runtime import engines
from caseflow.web.audit import _flatten

PACKAGE = Path(__file__).resolve().parent.parent.parent / "caseflow"


def _strings(node: ast.AST) -> list[str]:
    """The literal texts an `action=` argument can take (both sides of an `a if c else b`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.JoinedStr):
        prefix = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if prefix == "account_change.":
            return [f"account_change.{status}" for status in AccountChangeStatus]
        raise AssertionError(f"an event type built at run time: {ast.unparse(node)}; list its values here")
    return []


def recorded_event_types() -> set[str]:
    """Every event type the code appends: `action=` arguments, the case services' `_audit(…)`
    helper and module constants named ACTION."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "action":
                        found.update(_strings(keyword.value))
                if isinstance(node.func, ast.Name) and node.func.id == "_audit" and len(node.args) >= 3:
                    found.update(_strings(node.args[2]))
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ACTION"
                                                    for t in node.targets):
                found.update(_strings(node.value))
    return found


def test_the_scan_finds_the_event_types():
    found = recorded_event_types()
    assert {"case.opened", "case.transition", "login.failed", "account_change.rejected",
            "client.duplicate_nik_checked", "logout"} <= found
    assert len(found) > 40


def test_every_event_type_has_a_label_in_both_languages(app):
    missing = sorted(recorded_event_types() - set(audit_labels.EVENT_NAMES))
    assert not missing, f"event types without a label in caseflow/i18n/audit_labels.py: {missing}"
    for locale in ("id", "en"):
        with force_locale(locale):
            for action in recorded_event_types():
                assert audit_labels.event_name(action) != action
    with force_locale("id"):
        assert audit_labels.event_name("case.transition") == "Tahap berubah"


def test_every_workflow_stage_and_action_has_a_title_in_both_languages(app):
    for workflow in engines().values():
        definition = workflow.definition
        for state in definition.states.values():
            assert state.label.get("id") and state.label.get("en"), state.name
        for trigger, transitions in definition.triggers.items():
            for transition in transitions:
                assert transition.label.get("id") and transition.label.get("en"), trigger


def test_every_field_and_coded_value_of_a_busy_programme_has_a_label(app):
    seed_demo_data(case_count=12)
    seen: dict[str, set] = {}
    for event in db.session.execute(select(AuditEvent)).scalars():
        for record in (event.before, event.after, event.context):
            if isinstance(record, dict):
                for path, value in _flatten(record).items():
                    seen.setdefault(path, set()).add(value if not isinstance(value, dict | list) else None)
    missing = sorted({part for path in seen for part in audit_labels.unlabelled_fields(path)})
    assert not missing, f"fields without a label in caseflow/i18n/audit_labels.py: {missing}"
    names = audit_labels.Names(state_title=lambda code: f"<{code}>", trigger_title=lambda code: f"<{code}>")
    with force_locale("id"):
        for path, values in seen.items():
            key = path.rsplit(".", 1)[-1]
            if key in audit_labels.CODE_TABLES:
                for value in values - {None, ""}:
                    assert audit_labels.value_text(path, value, names) != value, (path, value)


def test_a_field_path_reads_as_words(app):
    with force_locale("id"):
        assert audit_labels.field_name("goals.2.description") == "Tujuan 2 · Uraian"
        assert audit_labels.field_name("ppks_category_code") == "Kategori PPKS"
    assert audit_labels.unlabelled_fields("goals.2.colour") == ["colour"]


RAW = ("facilitator_id", "ppks_category_code", "reject_termination", "sign_off_decided", "client.registered",
       "case.opened", "start_assessment", "titik periksa", "checkpoint")


def _visible(html: str) -> str:
    """The page as read: without the expert's details, attributes and the page's scripts."""
    html = re.sub(r"<details class=\"raw\">.*?</details>", "", html, flags=re.S)
    html = re.sub(r"<(script|style|head)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_case_history_speaks_in_words_with_the_codes_one_click_away(signed_in, team, make):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    page = signed_in(team.auditor).get(f"/audit/cases/{case.id}/history")
    assert page.status_code == 200
    text = _visible(page.text)
    for code in RAW:
        assert code not in text, code
    assert "Tahap berubah" in text and "Kategori PPKS" in text and team.facilitator.full_name in text
    assert "<code>ppks_category_code</code>" in page.text  # the stored field, for the expert


def test_history_filters_changes_reads_person_and_period(signed_in, team, make):
    case = make.case(team.facilitator, to="planning")
    auditor = signed_in(team.auditor)
    for _ in range(4):
        auditor.get(f"/cases/{case.id}")
    everything = auditor.get(f"/audit/cases/{case.id}/history").text
    assert "dan 3 kali lagi" in everything or "dan 4 kali lagi" in everything  # repeated reads folded
    changes = auditor.get(f"/audit/cases/{case.id}/history", query_string={"kind": "changes"}).text
    assert "action-case-viewed" not in changes and "action-case-opened" in changes
    reads = auditor.get(f"/audit/cases/{case.id}/history", query_string={"kind": "reads"}).text
    assert "action-case-viewed" in reads and "action-case-opened" not in reads
    mine = auditor.get(f"/audit/cases/{case.id}/history", query_string={"person": team.facilitator.id}).text
    assert "action-case-opened" in mine and "action-case-viewed" not in mine
    later = auditor.get(f"/audit/cases/{case.id}/history", query_string={"from": "2100-01-01"}).text
    assert "action-case-opened" not in later
    odd = auditor.get(f"/audit/cases/{case.id}/history", query_string={"kind": "x", "person": "²", "from": "zz"})
    assert odd.status_code == 200 and "action-case-opened" in odd.text


@pytest.mark.parametrize("locale", ["id", "en"])
def test_values_are_named_not_coded(app, locale):
    names = audit_labels.Names(people={5: "Yohana Wenda"}, categories={"P04": "Anak terlantar"},
                               goals={3: "Klien kembali bersekolah"}, state_title=lambda c: "Asesmen")
    with force_locale(locale):
        assert audit_labels.value_text("facilitator_id", 5, names) == "Yohana Wenda"
        assert audit_labels.value_text("ppks_category_code", "P04", names) == "Anak terlantar"
        assert audit_labels.value_text("ratings.1.goal_id", 3, names) == "Klien kembali bersekolah"
        assert audit_labels.value_text("state", "assessment", names) == "Asesmen"
        assert audit_labels.value_text("risk_level", "high", names) in ("Tinggi", "High")
        assert "2026" in audit_labels.value_text("sent_on", "2026-07-28", names)
