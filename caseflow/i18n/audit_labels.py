"""Audit events in plain words, in the reader's language: every event type, every field
an event records and every coded value it holds (people by name, categories and
provinces by name, stages by their title, codes by their label). The raw code stays
available to the expert next to each label (tests/i18n/test_audit_labels.py fails for
any event type, field or stage without one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import gettext as _

from ..i18n import _l
from ..models import AccountChangeKind, AccountChangeStatus, EmploymentStatus, Role
from . import formatting as fmt
from .agenda_labels import MEASURE_NAMES, PERIOD_NAMES, VISIT_STATUS_NAMES
from .labels import (
    CLOSURE_REASON_NAMES,
    OUTCOME_NAMES,
    RATING_NAMES,
    RISK_LEVEL_NAMES,
    SEX_NAMES,
    STEP_TYPE_NAMES,
)
from .referral_labels import DESTINATION_NAMES, REFERRAL_STATUS_NAMES

EVENT_NAMES = {
    "case.opened": _l("Case opened"),
    "supervision.session_recorded": _l("Supervision session recorded"),
    "supervision.action_point_done": _l("Action point done"),
    "case.viewed": _l("Case viewed"),
    "case.transition": _l("Stage changed"),
    "case.reassigned": _l("Case reassigned"),
    "case.anonymised": _l("Case anonymised under the retention rules"),
    "assessment.saved": _l("Assessment saved"),
    "plan.saved": _l("Intervention plan saved"),
    "evaluation.saved": _l("Evaluation saved"),
    "termination.saved": _l("Termination request saved"),
    "step.logged": _l("Step logged"),
    "aftercare.started": _l("Aftercare started"),
    "aftercare.contact_made": _l("Aftercare contact made"),
    "aftercare.ended": _l("Aftercare ended"),
    "referral.sent": _l("Referral sent"),
    "referral.answered": _l("Referral answer recorded"),
    "client.registered": _l("Client registered"),
    "client.viewed": _l("Client viewed"),
    "client.data_exported": _l("Client's personal data exported"),
    "client.duplicate_nik_checked": _l("NIK registered outside their reach"),
    "access.denied": _l("Access refused"),
    "login.succeeded": _l("Signed in"),
    "login.failed": _l("Sign-in refused"),
    "logout": _l("Signed out"),
    "user.created": _l("Account created"),
    "user.updated": _l("Account changed"),
    "user.activated": _l("Account reactivated"),
    "user.deactivated": _l("Account deactivated"),
    "user.team_changed": _l("Team changed"),
    "user.password_changed": _l("Password changed"),
    "user.password_change_refused": _l("Password change refused"),
    "user.locale_changed": _l("Language changed"),
    "user.offline_key_created": _l("Offline key made for the tablet"),
    "account_change.requested": _l("Account change requested"),
    "account_change.applied": _l("Account change made on the server"),
    "account_change.confirmed": _l("Account change confirmed"),
    "account_change.rejected": _l("Account change rejected"),
    "account_change.pending": _l("Account change waiting"),
    "token.created": _l("API token created"),
    "token.used": _l("API token used"),
    "token.revoked": _l("API token revoked"),
    "delegation.created": _l("Acting supervisor named"),
    "delegation.revoked": _l("Acting supervisor withdrawn"),
    "sign_off.escalated": _l("Sign-off passed to the next supervisor"),
    "evidence.exported": _l("Evidence package exported"),
    "cases.exported": _l("Case list exported"),
    "keys.rotated": _l("Encryption keys rotated"),
    "backup.created": _l("Backup made"),
    "backup.restored": _l("Backup restored"),
    "visit.planned": _l("Visit planned"),
    "visit.cancelled": _l("Planned visit cancelled"),
    "visit.done": _l("Planned visit made"),
    "agenda.settings_changed": _l("Agenda reminders changed"),
    "agenda.feed_created": _l("Calendar feed created"),
    "agenda.feed_revoked": _l("Calendar feed revoked"),
    "target.default_set": _l("National work target set"),
    "target.set": _l("Work target set"),
    "performance_report.signed": _l("Performance report signed"),
    "attachment.added": _l("Attachment added"),
    "attachment.viewed": _l("Attachment viewed"),
    "client.merged_from_tablet": _l("Client registered on a tablet joined to the existing one"),
    "client.registered_despite_match": _l("Client registered although a similar one exists"),
}

# Events that only read: shown apart from the changes, and folded when repeated.
READ_EVENTS = frozenset({"case.viewed", "client.viewed", "token.used", "attachment.viewed"})

FIELD_NAMES = {
    "id": _l("Record number"),
    "number": _l("Number"),
    "state": _l("Stage"),
    "version": _l("Case version"),
    "workflow": _l("Workflow"),
    "facilitator_id": _l("Facilitator"),
    "supervisor_id": _l("Supervisor"),
    "target_user_id": _l("Account"),
    "decided_by_id": _l("Decided by"),
    "requested_by_id": _l("Requested by"),
    "created_by_id": _l("Registered by"),
    "client_id": _l("Client"),
    "goal_id": _l("Goal"),
    "step_id": _l("Step"),
    "aftercare_id": _l("Aftercare"),
    "risk_level": _l("Risk level"),
    "stage_due_at": _l("Stage due"),
    "ppks_category_code": _l("PPKS category"),
    "province_code": _l("Province"),
    "auditor_scope_province_code": _l("Auditor's province"),
    "full_name": _l("Full name"),
    "username": _l("Username"),
    "role": _l("Role"),
    "active": _l("Active"),
    "nip_pppk": _l("NIP PPPK"),
    "employment_status": _l("Employment status"),
    "nik": _l("NIK"),
    "sex": _l("Sex"),
    "birth_date": _l("Date of birth"),
    "address": _l("Address"),
    "phone": _l("Phone"),
    "guardian_name": _l("Guardian"),
    "guardian_relationship": _l("Guardian's relationship"),
    "consent_given_by": _l("Consent given by"),
    "consent_recorded_at": _l("Consent recorded"),
    "health_notes": _l("Health notes"),
    "protection_notes": _l("Protection notes"),
    "problem": _l("Problem"),
    "needs": _l("Needs"),
    "strengths": _l("Strengths"),
    "resources": _l("Resources"),
    "summary": _l("Summary"),
    "goals": _l("Goal"),
    "description": _l("Description"),
    "target_date": _l("Target date"),
    "responsible_party": _l("Responsible"),
    "ratings": _l("Rating"),
    "rating": _l("Rating"),
    "notes": _l("Notes"),
    "outcome": _l("Outcome"),
    "closure_reason": _l("Reason for closing"),
    "reason_details": _l("Details of the reason"),
    "aftercare_plan": _l("Aftercare plan"),
    "step_type": _l("Type of step"),
    "occurred_at": _l("When"),
    "occurred_timezone": _l("Time zone"),
    "location": _l("Where"),
    "destination_type": _l("Kind of service"),
    "institution": _l("Institution"),
    "reason": _l("Reason"),
    "sent_on": _l("Sent on"),
    "expected_answer_on": _l("Answer expected by"),
    "answered_on": _l("Answered on"),
    "feedback": _l("Feedback"),
    "status": _l("Status"),
    "contacts": _l("Contact"),
    "opens_at": _l("Opens"),
    "due_at": _l("Due"),
    "closes_at": _l("Closes"),
    "planned_end_at": _l("Planned end"),
    "made_at": _l("Made"),
    "kind": _l("Kind of change"),
    "payload": _l("Requested change"),
    "requested_via": _l("Requested through"),
    "decided_via": _l("Decided through"),
    "via": _l("Through"),
    "trigger": _l("Action"),
    "sign_off_requested": _l("Sign-off requested"),
    "sign_off_decided": _l("Sign-off decided"),
    "earlier_case_ids": _l("Earlier case"),
    "page": _l("Page"),
    "redacted_at": _l("Erased on"),
    "locale": _l("Language"),
    "value": _l("Value"),
    # Agenda and work targets
    "planned_at": _l("Planned for"),
    "timezone": _l("Time zone"),
    "place": _l("Where"),
    "purpose": _l("Purpose"),
    "done_at": _l("Done at"),
    "cancel_reason": _l("Reason for cancelling"),
    "feed": _l("Calendar feed"),
    "feed_details": _l("Details in the calendar feed"),
    "remind_overdue": _l("Remind of overdue work"),
    "remind_tomorrow": _l("Remind of tomorrow's work"),
    "replaced": _l("Replaced"),
    "measure": _l("Measure"),
    "measures": _l("Measures"),
    "period_kind": _l("Kind of period"),
    "period_start": _l("Period starts"),
    "period_end": _l("Period ends"),
    "target": _l("Target"),
    "actual": _l("Achieved"),
    "digest": _l("Digest of the signed figures"),
    "figures": _l("Figures"),
    **MEASURE_NAMES,
    # Attachments and offline registration
    "attachment_id": _l("Attachment"),
    "content_type": _l("Kind of file"),
    "size": _l("Size in bytes"),
    "matches": _l("Similar clients"),
    "sha256": _l("SHA-256 of the file"),
}

VIA_NAMES = {"web": _l("the web pages"), "api": _l("the API"), "cli": _l("the server's command line"),
             "system": _l("the system")}
LOCALE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}
ROLE_NAMES = {
    Role.FACILITATOR: _l("Facilitator"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.AUDITOR: _l("Auditor"),
    Role.PROGRAMME_MANAGER: _l("Programme manager"),
    Role.ADMIN: _l("Administrator"),
}
EMPLOYMENT_NAMES = {
    EmploymentStatus.PPPK: _l("PPPK (contract civil servant)"),
    EmploymentStatus.ASN: _l("ASN (civil servant)"),
    EmploymentStatus.VOLUNTEER: _l("Volunteer"),
}
ACCOUNT_CHANGE_KIND_NAMES = {
    AccountChangeKind.CREATE: _l("New account"),
    AccountChangeKind.REACTIVATE: _l("Reactivation"),
    AccountChangeKind.DETAILS: _l("Supervisor or scope"),
    AccountChangeKind.TEAM: _l("Facilitators added to the team"),
    AccountChangeKind.DELEGATION: _l("Acting supervisor"),
}
ACCOUNT_CHANGE_STATUS_NAMES = {
    AccountChangeStatus.PENDING: _l("Waiting for a second administrator"),
    AccountChangeStatus.CONFIRMED: _l("Confirmed"),
    AccountChangeStatus.REJECTED: _l("Rejected"),
    AccountChangeStatus.APPLIED: _l("Made on the server's command line"),
}
PAGE_NAMES = {"case page": _l("the case page"), "audit history": _l("the audit history"),
              "pdf:case_file": _l("the printed case file"),
              "pdf:termination_report": _l("the printed termination record")}

# Fields whose value is a person's account id, shown as the person's name.
PERSON_FIELDS = frozenset({"facilitator_id", "supervisor_id", "target_user_id", "decided_by_id",
                           "requested_by_id", "created_by_id"})
CODE_TABLES: dict[str, Mapping[str, Any]] = {
    "risk_level": RISK_LEVEL_NAMES, "step_type": STEP_TYPE_NAMES, "rating": RATING_NAMES,
    "outcome": OUTCOME_NAMES, "closure_reason": CLOSURE_REASON_NAMES, "sex": SEX_NAMES,
    "destination_type": DESTINATION_NAMES, "role": ROLE_NAMES, "employment_status": EMPLOYMENT_NAMES,
    "via": VIA_NAMES, "requested_via": VIA_NAMES, "decided_via": VIA_NAMES, "locale": LOCALE_NAMES,
    "kind": ACCOUNT_CHANGE_KIND_NAMES, "page": PAGE_NAMES, "measure": MEASURE_NAMES, "period_kind": PERIOD_NAMES,
}

_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def event_name(action: str) -> str:
    """The event type in words ('Stage changed'); the code itself if it has no label."""
    return str(EVENT_NAMES.get(action, action))


def field_name(path: str) -> str:
    """'goals.2.description' → 'Goal 2 · Description': a dotted path in words, list items
    numbered as people count."""
    words: list[str] = []
    for part in path.split("."):
        if part.isdigit() and words:
            words[-1] = f"{words[-1]} {part}"
        else:
            words.append(str(FIELD_NAMES.get(part, part)))
    return " · ".join(words)


def is_record_number(path: str) -> bool:
    """A row's own id ('id', 'goals.2.id'): bookkeeping, not something a reader needs."""
    return path == "id" or path.endswith(".id")


def unlabelled_fields(path: str) -> list[str]:
    """The parts of a path that have no label (what the label test checks)."""
    return [part for part in path.split(".") if not part.isdigit() and part not in FIELD_NAMES]


@dataclass
class Names:
    """What the values of events refer to, looked up once per page: people, PPKS
    categories, provinces, goals and clients by id or code, stage and action titles."""

    people: Mapping[int, str] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)
    provinces: Mapping[str, str] = field(default_factory=dict)
    goals: Mapping[int, str] = field(default_factory=dict)
    clients: Mapping[int, str] = field(default_factory=dict)
    cases: Mapping[int, str] = field(default_factory=dict)  # case id → case number
    state_title: Callable[[str], str] = str
    trigger_title: Callable[[str], str] = str
    zone: str = "Asia/Jakarta"
    locale: str | None = None


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def value_text(path: str, value: Any, names: Names) -> str:
    """A recorded value as a person reads it: names instead of ids and codes, dates and
    times in the reader's language (the raw value is shown beside it on demand)."""
    key = path.rsplit(".", 1)[-1]
    if key.isdigit() and "." in path:
        key = path.rsplit(".", 2)[-2]
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _yes_no(value)
    if key in PERSON_FIELDS and isinstance(value, int):
        return names.people.get(value) or _("account %(id)s", id=value)
    if key in ("goal_id",) and isinstance(value, int):
        return names.goals.get(value) or _("goal no longer in the plan")
    if key == "earlier_case_ids" and isinstance(value, int):
        return names.cases.get(value) or _("case %(id)s", id=value)
    if key == "client_id" and isinstance(value, int):
        return names.clients.get(value) or _("client %(id)s", id=value)
    if key == "ppks_category_code":
        return names.categories.get(value, value)
    if key in ("province_code", "auditor_scope_province_code"):
        return names.provinces.get(value, value)
    if key == "state":
        return names.state_title(value)
    if key == "trigger":
        return names.trigger_title(value)
    if key in ("occurred_timezone", "timezone"):
        return fmt.zone_name(value)
    if key == "status":
        table = next((t for t in (ACCOUNT_CHANGE_STATUS_NAMES, REFERRAL_STATUS_NAMES, VISIT_STATUS_NAMES)
                      if value in t), REFERRAL_STATUS_NAMES)
        return str(table.get(value, value))
    if key in CODE_TABLES and isinstance(value, str):
        return str(CODE_TABLES[key].get(value, value))
    if isinstance(value, str) and _ISO_INSTANT.match(value):
        # Local time and UTC, as everywhere on the auditor's pages.
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return f"{fmt.moment(instant, names.zone, names.locale)} · {instant.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if isinstance(value, str) and _ISO_DAY.match(value):
        return fmt.short_date(date.fromisoformat(value), names.locale)
    if isinstance(value, float):
        return fmt.number(value, 2, names.locale, trailing_zeros=False)
    return str(value)


def raw_text(value: Any) -> str:
    """The stored value itself, for the expert (one click away on the page)."""
    if value is None:
        return "null"
    return str(value)
