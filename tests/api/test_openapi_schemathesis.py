"""Property tests against the served OpenAPI document, as a signed-in facilitator with a
few cases: no 5xx, and every answer conforms to the document (status, content type, body)."""

from __future__ import annotations

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.factories import PASSWORD, a_step

USER_AGENT = "caseflow-schemathesis"
# Few examples per operation: the suite runs on two databases and must stay fast.
EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, negative_data_rejection,
          response_schema_conformance]


def test_api_conforms_to_its_document(app, make, team):
    """Every operation, a few generated requests each, as a signed-in facilitator with cases.
    Generated ids are folded onto the facilitator's real cases and clients half of the time,
    so the answers that carry data are checked too, not only 404s."""
    cases = [make.case(team.facilitator, to=to) for to in ("recorded", "assessment", "evaluation")]
    case_ids = [c.id for c in cases]
    client_ids = [c.client_id for c in cases]
    browser = app.test_client()
    headers = {"User-Agent": USER_AGENT}
    signed_in = browser.post("/login", data={"username": team.facilitator.username,
                                             "password": PASSWORD}, headers=headers)
    assert signed_in.status_code == 302
    browser.post(f"/api/v1/cases/{case_ids[1]}/steps", json=a_step(), headers=headers)
    headers["Cookie"] = f"session={browser.get_cookie('session').value}"
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19
    statuses = Counter()

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            for name, real in (("case_id", case_ids), ("client_id", client_ids)):
                value = (case.path_parameters or {}).get(name)
                if isinstance(value, int) and value % 2 == 0:
                    case.path_parameters[name] = real[value // 2 % len(real)]
            if case.headers:  # the facilitator's session, not a generated bearer token
                case.headers.pop("Authorization", None)
            response = case.call(headers=headers)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        check()
    assert statuses[200] + statuses[201] > len(operations), statuses
    assert not any(code >= 500 for code in statuses), statuses
