"""A tablet's outbox in one request: queued writes applied in order, each exactly once by
its own Idempotency-Key, in one transaction with a savepoint each. One round trip and one
disk sync for many entries — what a weak signal and a long offline spell need."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response

from ..errors import CaseflowError, NotAllowed, NotFound
from ..extensions import db
from ..schemas import (
    AssessmentSchema,
    EvaluationSchema,
    PlanSchema,
    StepSchema,
    TerminationSchema,
    TransitionSchema,
    load,
)
from ..schemas import api as s
from ..services import cases as case_services
from ..services import idempotency
from . import present
from .common import API_PREFIX, etag, make_blueprint, problem_document, scope, user
from .common import actor as request_actor

blp = make_blueprint("api_outbox", "A tablet's queued writes, sent together.")


@dataclass(frozen=True)
class Kind:
    method: str
    path: str  # after /cases/<id>
    schema: type
    status: int
    out: Any
    apply: Callable[..., Any]
    present: Callable[[Any], Any]
    version_of: Callable[[Any], int]


def _summary_version(summary) -> int:
    return summary["version"]


KINDS = {
    "step": Kind("POST", "/steps", s.strict(StepSchema), 201, s.StepOut(),
                 lambda a, cid, body, v, _t: case_services.log_step(a, cid, body, v),
                 lambda step: step, lambda step: step.case.version),
    "assessment": Kind("PUT", "/assessment", s.strict(AssessmentSchema), 200, s.CaseSummaryOut(),
                       lambda a, cid, body, v, _t: case_services.save_assessment(a, cid, body, v),
                       present.case_summary, _summary_version),
    "plan": Kind("PUT", "/plan", s.strict(PlanSchema), 200, s.CaseSummaryOut(),
                 lambda a, cid, body, v, _t: case_services.save_plan(a, cid, body, v),
                 present.case_summary, _summary_version),
    "evaluation": Kind("PUT", "/evaluation", s.strict(EvaluationSchema), 200, s.CaseSummaryOut(),
                       lambda a, cid, body, v, _t: case_services.save_evaluation(a, cid, body, v),
                       present.case_summary, _summary_version),
    "termination": Kind("PUT", "/termination", s.strict(TerminationSchema), 200, s.CaseSummaryOut(),
                        lambda a, cid, body, v, _t: case_services.save_termination_request(a, cid, body, v),
                        present.case_summary, _summary_version),
    "transition": Kind("POST", "/transitions/{trigger}", s.strict(TransitionSchema), 200, s.CaseSummaryOut(),
                       lambda a, cid, body, v, trigger: case_services.fire_trigger(a, cid, trigger, body, v),
                       present.case_summary, _summary_version),
}


def _item(me, entry: dict) -> idempotency.Item:
    kind = KINDS[entry["kind"]]
    path = f"{API_PREFIX}/cases/{entry['case_id']}" + kind.path.format(trigger=entry.get("trigger") or "")
    raw = json.dumps(entry["body"]).encode()
    fingerprint = idempotency.fingerprint(kind.method, path, idempotency.canonical_body(raw))
    actor = request_actor(entry.get("device_time"))

    def work() -> tuple[int, str, str | None]:
        # The single endpoint's strict validation, once: the service takes what it loaded.
        values = load(kind.schema(), entry["body"])
        try:
            result = kind.apply(actor, entry["case_id"], values, entry.get("if_match"), entry.get("trigger"))
        except (NotFound, NotAllowed):
            # A case the entry may not touch is a refused attempt like any other; its
            # savepoint is rolled back, so the record is written after the batch.
            case_services.record_refusal(actor, f"outbox {entry['kind']}", entry["case_id"])
            raise
        db.session.flush()
        shown = kind.present(result)
        return kind.status, idempotency.dumps(kind.out.dump(shown)), etag(kind.version_of(shown))

    return idempotency.Item(entry["key"], fingerprint, kind.method, path, entry["case_id"], work)


@blp.route("/outbox", methods=["POST"])
@blp.arguments(s.OutboxBatchSchema)
@blp.response(200, s.OutboxResultsOut)
@scope("cases:write")
def send_outbox(values):
    """Apply queued writes in order; each answers as if sent alone (status, body, ETag).
    A refused entry changes nothing and holds back the later entries of its case (424)."""
    me = user()
    entries = values["entries"]
    items = [_item(me, entry) for entry in entries]

    def refused(error: CaseflowError, item: idempotency.Item) -> tuple[int, str]:
        return error.status, idempotency.dumps(problem_document(error, item.path))

    # Each entry's answer is already JSON (as stored for a replay): it goes into the
    # document as it is, neither parsed nor written again.
    answers = idempotency.run_many(me.id, items, refused)
    results = ", ".join(_result_json(entry, result) for entry, result in zip(entries, answers, strict=True))
    return Response(f'{{"results": [{results}]}}', mimetype="application/json")


def _result_json(entry: dict, result: idempotency.StoredResult) -> str:
    fields = {"key": entry["key"], "kind": entry["kind"], "case_id": entry["case_id"], "status": result.status,
              "replayed": result.replayed, "etag": result.etag}
    known = json.dumps(fields, ensure_ascii=False)[:-1]
    return f'{known}, "body": {result.body or "null"}}}'
