"""The whole OpenAPI document against a real `reviewflow serve`: schemathesis generates requests for every
operation from its schema, and every answer must be no server error, a documented status, the documented
content type and a body that matches its schema."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.test_api import World, world  # noqa: F401 - the served database, as a fixture

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance, checks.negative_data_rejection]
"""Every answer as documented, and malformed requests refused. (A well-formed request may still be refused by
a rule, 422 in the words of the command line: that is documented, not a contract failure.)"""
EXAMPLES = 8
"""Generated requests per operation (about 25 operations, on SQLite and PostgreSQL)."""


def test_every_operation_answers_as_documented(world: World) -> None:  # noqa: F811 - the fixture imported above
    schema = schemathesis.openapi.from_url(f"{world.base}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {world.tokens['bm']}"}
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            case.validate_response(response, checks=CHECKS)

        answers_as_documented()
        checked.append(operation.label)
    assert len(checked) >= 20
