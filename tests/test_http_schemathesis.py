"""schemathesis against the published OpenAPI description of a running server: no server error, no response
outside the schema, on every operation (a CI-sized number of generated cases each)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from http_fixtures import WRITE_SECRET, Api
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi import checks as openapi_checks

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

_CASES = 10


def _seed(api: Api) -> None:
    s = api.store
    t = s.put_artifact_type(mlmd.ArtifactType(name="Dataset", properties={"split": mlmd.STRING}))
    e = s.put_execution_type(mlmd.ExecutionType(name="Trainer"))
    c = s.put_context_type(mlmd.ContextType(name="Pipeline"))
    s.put_execution(
        mlmd.Execution(type_id=e), [(mlmd.Artifact(type_id=t, uri="s3://x", name="a"), mlmd.Event(type=mlmd.Event.INPUT))],
        [mlmd.Context(type_id=c, name="p")],
    )


def test_no_operation_answers_a_server_error_or_breaks_its_schema(api: Api) -> None:
    _seed(api)
    schema = schemathesis.openapi.from_url(f"{api.server.url}/openapi.json")
    failures: list[str] = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(max_examples=_CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def check(case: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {WRITE_SECRET}"}
            response = case.call(timeout=30)
            case.validate_response(response, checks=[
                schemathesis.checks.not_a_server_error,
                openapi_checks.content_type_conformance,
                openapi_checks.response_schema_conformance,
            ])

        try:
            check()
        except Exception as err:  # collected so one run reports every failing operation
            failures.append(f"{op.method.upper()} {op.path}: {str(err)[:1500]}")
    assert not failures, "\n\n".join(failures)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
