"""A tablet's outbox in one request: queued writes applied in order, each exactly once by
its own Idempotency-Key, in one transaction with a savepoint each. One round trip and one
disk sync for many entries — what a weak signal and a long offline spell need."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import CaseflowError, NotAllowed, NotFound
from ..extensions import db
from ..schemas import api as s
from ..schemas import load
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
    "step": Kind("POST", "/steps", s.ApiStepSchema, 201, s.StepOut(),
                 lambda a, cid, body, v, _t: case_services.log_step(a, cid, body, v),
                 lambda step: step, lambda step: step.case.version),
    "assessment": Kind("PUT", "/assessment", s.ApiAssessmentSchema, 200, s.CaseSummaryOut(),
                       lambda a, cid, body, v, _t: case_services.save_assessment(a, cid, body, v),
                       present.case_summary, _summary_version),
    "plan": Kind("PUT", "/plan", s.ApiPlanSchema, 200, s.CaseSummaryOut(),
                 lambda a, cid, body, v, _t: case_services.save_plan(a, cid, body, v),
                 present.case_summary, _summary_version),
    "evaluation": Kind("PUT", "/evaluation", s.ApiEvaluationSchema, 200, s.CaseSummaryOut(),
                       lambda a, cid, body, v, _t: case_services.save_evaluation(a, cid, body, v),
                       present.case_summary, _summary_version),
    "termination": Kind("PUT", "/termination", s.ApiTerminationSchema, 200, s.CaseSummaryOut(),
                        lambda a, cid, body, v, _t: case_services.save_termination_request(a, cid, body, v),
                        present.case_summary, _summary_version),
    "transition": Kind("POST", "/transitions/{trigger}", s.ApiTransitionSchema, 200, s.CaseSummaryOut(),
                       lambda a, cid, body, v, trigger: case_services.fire_trigger(a, cid, trigger, body, v),
                       present.case_summary, _summary_version),
}


def _item(me, entry: dict) -> tuple[idempotency.Item, str]:
    kind = KINDS[entry["kind"]]
    path = f"{API_PREFIX}/cases/{entry['case_id']}" + kind.path.format(trigger=entry.get("trigger") or "")
    raw = json.dumps(entry["body"]).encode()
    fingerprint = idempotency.fingerprint(kind.method, path, idempotency.canonical_body(raw))
    actor = request_actor(entry.get("device_time"))

    def work() -> tuple[int, str, str | None]:
        load(kind.schema(), entry["body"])  # the single endpoint's strict validation
        try:
            result = kind.apply(actor, entry["case_id"], entry["body"], entry.get("if_match"), entry.get("trigger"))
        except (NotFound, NotAllowed):
            # A case the entry may not touch is a refused attempt like any other; its
            # savepoint is rolled back, so the record is written after the batch.
            case_services.record_refusal(actor, f"outbox {entry['kind']}", entry["case_id"])
            raise
        db.session.flush()
        shown = kind.present(result)
        return kind.status, idempotency.dumps(kind.out.dump(shown)), etag(kind.version_of(shown))

    return idempotency.Item(entry["key"], fingerprint, kind.method, path, entry["case_id"], work), path


@blp.route("/outbox", methods=["POST"])
@blp.arguments(s.OutboxBatchSchema)
@blp.response(200, s.OutboxResultsOut)
@scope("cases:write")
def send_outbox(values):
    """Apply queued writes in order; each answers as if sent alone (status, body, ETag).
    A refused entry changes nothing and holds back the later entries of its case (424)."""
    me = user()
    entries = values["entries"]
    items, paths = zip(*(_item(me, entry) for entry in entries), strict=True)

    def refused(error: CaseflowError) -> tuple[int, str]:
        return error.status, idempotency.dumps(problem_document(error, ""))

    results = []
    for index, result in enumerate(idempotency.run_many(me.id, list(items), refused)):
        body = json.loads(result.body) if result.body else None
        if isinstance(body, dict) and body.get("instance") == "":
            body["instance"] = paths[index]  # a refusal names the entry's own path
        results.append({"key": entries[index]["key"], "kind": entries[index]["kind"],
                        "case_id": entries[index]["case_id"], "status": result.status,
                        "replayed": result.replayed, "etag": result.etag, "body": body})
    return {"results": results}
