"""A tablet's outbox in one request: queued writes applied in order, each exactly once by
its own Idempotency-Key, in one transaction with a savepoint each. One round trip and one
disk sync for many entries — what a weak signal and a long offline spell need."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response
from marshmallow import Schema

from ..errors import CaseflowError, NotAllowed, NotFound
from ..extensions import db
from ..i18n import _l
from ..schemas import (
    AssessmentSchema,
    EvaluationSchema,
    Loaded,
    OpenCaseSchema,
    PlanSchema,
    StepSchema,
    TerminationSchema,
    TransitionSchema,
    load,
)
from ..schemas import api as s
from ..services import cases as case_services
from ..services import idempotency, sync_health
from ..services.attachments import add_attachment
from ..services.offline_registration import register_from_tablet
from . import present
from .common import API_PREFIX, etag, make_blueprint, problem_document, scope, user
from .common import actor as request_actor

blp = make_blueprint("api_outbox", "A tablet's queued writes, sent together.")


@dataclass(frozen=True)
class Kind:
    method: str
    path: str  # after /cases/<id>; or the whole path after the prefix for a client or a case
    schema: Schema | None  # None: the service validates the body itself
    status: int
    out: Any
    # (actor, case id, body, if_match, trigger, the cases the batch holds locked for steps)
    apply: Callable[..., Any]
    present: Callable[[Any], Any]
    version_of: Callable[[Any], int]


def _summary_version(summary) -> int:
    return summary["version"]


def _stage_record(path: str, schema: type[Schema], save: Callable[..., Any]) -> Kind:
    """A stage record saved whole (PUT), answered with the case's summary."""
    return Kind("PUT", path, s.strict(schema)(), 200, s.CaseSummaryOut(),
                lambda a, cid, body, v, _t, _locked: save(a, cid, body, v), present.case_summary, _summary_version)


KINDS = {
    "step": Kind("POST", "/steps", s.strict(StepSchema)(), 201, s.StepAnswer,
                 lambda a, cid, body, v, _t, locked: case_services.log_step(a, cid, body, v, locked=locked),
                 lambda step: step, lambda step: step.case.version),
    "assessment": _stage_record("/assessment", AssessmentSchema, case_services.save_assessment),
    "plan": _stage_record("/plan", PlanSchema, case_services.save_plan),
    "evaluation": _stage_record("/evaluation", EvaluationSchema, case_services.save_evaluation),
    "termination": _stage_record("/termination", TerminationSchema, case_services.save_termination_request),
    "transition": Kind("POST", "/transitions/{trigger}", s.strict(TransitionSchema)(), 200, s.CaseSummaryOut(),
                       lambda a, cid, body, v, trigger, _locked: case_services.fire_trigger(a, cid, trigger, body, v),
                       present.case_summary, _summary_version),
}


# --- work created on the tablet: clients, cases and their provisional ids ----------------
# A client or case made offline is named, until it reaches the server, by the key of the
# entry that made it (client_ref, case_ref). The key's stored result gives the real id, in
# this batch or any later one, so an entry never changes once queued (same fingerprint).


class Pending(CaseflowError):
    """The client or case an entry names has not been made yet (its entry was refused or
    not sent): the entry waits, like one held back behind a refusal of its case."""

    status = 424
    title = _l("Waiting for an earlier entry")


def _resolved(batch: idempotency.Batch, ref: str, field: str) -> int:
    found = batch.created_id(ref)
    if found is None:
        message = _l("Waits until the entry that creates it has reached the server.")
        raise Pending(message, fields={field: [message]})
    return found


def _tablet_client_body(body: dict) -> dict:
    choice = {name: body[name] for name in ("existing_client_id", "distinct_reason") if name in body}
    if "existing_client_id" not in choice:
        load(s.ApiClientSchema(), {k: v for k, v in body.items() if k != "distinct_reason"})
    return body


KINDS["client"] = Kind("POST", "/clients", None, 201, s.ClientOut(),
                       lambda a, _cid, body, _v, _t, _locked: register_from_tablet(a, body),
                       lambda client: client, lambda _client: 0)
KINDS["attachment"] = Kind("POST", "/attachments", s.AttachmentUploadSchema(), 201, s.AttachmentOut(),
                           lambda a, cid, body, _v, _t, _locked: add_attachment(a, cid, body),
                           lambda attachment: attachment, lambda _attachment: 0)
KINDS["case"] = Kind("POST", "/clients/{client}/cases", s.strict(OpenCaseSchema)(), 201, s.CaseSummaryOut(),
                     lambda a, _cid, body, _v, _t, _locked: case_services.open_case(a, body),
                     present.case_summary, _summary_version)


def _group(entry: dict):
    """What a refusal holds back: the entry's case (by id or provisional id), or the new
    client (its case follows it through `_resolved`)."""
    if entry["kind"] == "client":
        return "client:" + entry["key"]
    if entry["kind"] == "case":
        return "ref:" + entry["key"]
    return entry["case_id"] if entry["case_id"] is not None else "ref:" + entry["case_ref"]


def _path(entry: dict, kind: Kind) -> str:
    if entry["kind"] == "case":
        client = entry["body"].get("client_id") if entry.get("client_ref") is None else "ref:" + entry["client_ref"]
        return API_PREFIX + kind.path.format(client=client)
    if entry["kind"] == "client":
        return API_PREFIX + kind.path
    case = entry["case_id"] if entry["case_id"] is not None else "ref:" + entry["case_ref"]
    return f"{API_PREFIX}/cases/{case}" + kind.path.format(trigger=entry.get("trigger") or "")


def _resolved_entry(batch: idempotency.Batch, entry: dict) -> tuple[int | None, dict]:
    """The entry's case id and body with the provisional ids replaced by the real ones."""
    body = entry["body"]
    if entry["kind"] == "client":
        return None, _tablet_client_body(body)
    if entry.get("client_ref") is not None:
        body = body | {"client_id": _resolved(batch, entry["client_ref"], "client_ref")}
    if entry.get("step_ref") is not None:
        body = body | {"step_id": _resolved(batch, entry["step_ref"], "step_ref")}
    case_id = entry["case_id"]
    if case_id is None and entry.get("case_ref") is not None:
        case_id = _resolved(batch, entry["case_ref"], "case_ref")
    return case_id, body


def _present_client(me):
    return lambda client: present.client(me, client)


# --- end of the tablet's own work ---------------------------------------------------------


def _item(me, batch: idempotency.Batch, locked: case_services.LockedCases, entry: dict) -> idempotency.Item:
    """`locked`: the cases the batch's steps locked so far (see `log_step`), shared by the
    batch's entries."""
    kind = KINDS[entry["kind"]]
    path = _path(entry, kind)
    shown_as = _present_client(me) if entry["kind"] == "client" else kind.present
    fingerprint = idempotency.fingerprint(kind.method, path, idempotency.canonical_json(entry["body"]))
    actor = request_actor(entry.get("device_time"))

    def apply() -> tuple[int, str, str | None]:
        case_id, body = _resolved_entry(batch, entry)
        if kind.schema is not None:
            # The single endpoint's strict validation, once: the service takes what it loaded.
            values = load(kind.schema, body)
            body = values if isinstance(values, Loaded) else body
        if entry["kind"] != "step":
            # The other services change a case in their own ways: a step after them locks
            # and reads it again.
            locked.clear()
        try:
            result = kind.apply(actor, case_id, body, entry.get("if_match"), entry.get("trigger"), locked)
        except (NotFound, NotAllowed):
            # A case the entry may not touch is a refused attempt like any other; its
            # savepoint is rolled back, so the record is written after the batch.
            case_services.record_refusal(actor, f"outbox {entry['kind']}", case_id)
            raise
        db.session.flush()
        sync_health.note_entry(actor, entry["kind"], case_id, result)
        shown = shown_as(result)
        version = kind.version_of(shown)
        return kind.status, idempotency.dumps(kind.out.dump(shown)), etag(version) if version else None

    def work() -> tuple[int, str, str | None]:
        try:
            return apply()
        except BaseException:
            # The entry's savepoint is rolled back, and with it what it did to a case (its
            # lock on PostgreSQL too): the next step of that case starts afresh.
            locked.clear()
            raise

    # A step refuses (lock, access, version, goal, dates) before it writes anything: it
    # needs no savepoint to be undone (idempotency.Item.savepoint).
    return idempotency.Item(entry["key"], fingerprint, kind.method, path, _group(entry), work,
                            savepoint=entry["kind"] != "step")


@blp.route("/outbox", methods=["POST"])
@blp.arguments(s.OutboxBatchSchema())  # an instance: made once, not for every batch
@blp.response(200, s.OutboxResultsOut)
@scope("cases:write")
def send_outbox(values):
    """Apply queued writes in order; each answers as if sent alone (status, body, ETag).
    A refused entry changes nothing and holds back the later entries of its case (424)."""
    me = user()
    entries = values["entries"]
    batch = idempotency.Batch(me.id)
    # The cases the batch's steps log on are locked together at its first step (those of
    # entries already applied, replayed, are not).
    locked = case_services.LockedCases(lambda: {
        entry["case_id"] for entry in entries
        if entry["kind"] == "step" and entry["case_id"] is not None and batch.pending(entry["key"])})
    items = [_item(me, batch, locked, entry) for entry in entries]

    def refused(error: CaseflowError, item: idempotency.Item) -> tuple[int, str]:
        return error.status, idempotency.dumps(problem_document(error, item.path))

    # Each entry's answer is already JSON (as stored for a replay): it goes into the
    # document as it is, neither parsed nor written again.
    report = sync_health.TabletReport(values.get("waiting"), values.get("oldest_waiting_at"))
    answers = sync_health.sync_outbox(me, batch, items, refused, report,
                                      [entry.get("device_time") for entry in entries])
    results = ", ".join(_result_json(entry, result) for entry, result in zip(entries, answers, strict=True))
    return Response(f'{{"results": [{results}]}}', mimetype="application/json")


# Made once (json.dumps with options makes a new encoder at every call): as json.dumps(…,
# ensure_ascii=False) writes.
_RESULT_FIELDS = json.JSONEncoder(ensure_ascii=False)


def _result_json(entry: dict, result: idempotency.StoredResult) -> str:
    fields = {"key": entry["key"], "kind": entry["kind"], "case_id": entry["case_id"], "status": result.status,
              "replayed": result.replayed, "etag": result.etag}
    known = _RESULT_FIELDS.encode(fields)[:-1]
    return f'{known}, "body": {result.body or "null"}}}'
