"""The HTTP/JSON API over a real uvicorn server: reads with asOf, paging, history, changes, SQL, and refusals."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pytest
from google.protobuf import json_format
from http_fixtures import Api

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd


def _seed(api: Api) -> dict[str, Any]:
    s = api.store
    type_id = s.put_artifact_type(mlmd.ArtifactType(name="Dataset", properties={"split": mlmd.STRING}))
    ids = s.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"s3://b/{i}", name=f"d{i}") for i in range(5)])
    before = api.position()
    a = mlmd.Artifact(id=ids[0], type_id=type_id, uri="s3://b/0-moved", name="d0")
    s.put_artifacts([a])
    return {"type_id": type_id, "ids": ids, "before": before}


def test_a_node_reads_as_protobuf_json_now_and_as_of_an_earlier_position(api: Api) -> None:
    seed = _seed(api)
    now = api.reader.get(f"/api/v1/artifacts/{seed['ids'][0]}")
    assert now.status_code == 200
    assert now.json()["uri"] == "s3://b/0-moved"
    parsed = json_format.ParseDict(now.json(), mlmd.Artifact(), ignore_unknown_fields=False)
    assert parsed.id == seed["ids"][0]  # protobuf's own JSON mapping reads it back
    then = api.reader.get(f"/api/v1/artifacts/{seed['ids'][0]}", params={"asOf": seed["before"]})
    assert then.json()["uri"] == "s3://b/0"


def test_listing_by_type_and_filter_query_pages_with_a_token(api: Api) -> None:
    seed = _seed(api)
    seen: list[str] = []
    params: dict[str, Any] = {"typeName": "Dataset", "filterQuery": "uri LIKE 's3://b/%'", "pageSize": 2}
    while True:
        page = api.reader.get("/api/v1/artifacts", params=params).json()
        seen += [a["id"] for a in page["items"]]
        if "nextPageToken" not in page:
            break
        params["pageToken"] = page["nextPageToken"]
    assert seen == [str(i) for i in seed["ids"]]


def test_history_lists_every_version_with_the_op_that_wrote_it(api: Api) -> None:
    seed = _seed(api)
    body = api.reader.get(f"/api/v1/artifacts/{seed['ids'][0]}/history").json()
    assert [v["node"]["uri"] for v in body["versions"]] == ["s3://b/0", "s3://b/0-moved"]
    assert body["versions"][1]["change"]["payload"] == "put_artifacts"
    old = api.reader.get(f"/api/v1/artifacts/{seed['ids'][0]}/history", params={"asOf": seed["before"]}).json()
    assert len(old["versions"]) == 1


def test_changes_between_two_positions_name_the_entities_and_fields(api: Api) -> None:
    seed = _seed(api)
    body = api.reader.get("/api/v1/log/changes", params={"after": seed["before"]}).json()
    assert [op["payload"] for op in body["ops"]] == ["put_artifacts"]
    (change,) = [c for c in body["entities"] if c["kind"] == "artifact"]
    assert change["action"] == "updated"
    assert {"field": "uri", "old": "s3://b/0", "new": "s3://b/0-moved"} in change["fields"]


def test_log_position_and_types(api: Api) -> None:
    _seed(api)
    pos = api.reader.get("/api/v1/log/position").json()
    assert pos["position"] == api.position() and pos["time"].endswith("+00:00")
    types = api.reader.get("/api/v1/types/artifact").json()["items"]
    assert [t["name"] for t in types] == ["Dataset"]
    by_time = api.reader.get("/api/v1/log/position", params={"asOf": "1970-01-01T00:00:00Z"}).json()
    assert by_time["position"] == -1


def test_sql_answers_json_rows_and_arrow_ipc(api: Api) -> None:
    _seed(api)
    body = {"sql": "SELECT count(*) AS n FROM artifacts WHERE uri LIKE ?", "params": ["s3://b/%"]}
    assert api.reader.post("/api/v1/sql", json=body).json()["rows"] == [[5]]
    arrow = api.reader.post("/api/v1/sql", json=body, headers={"Accept": "application/vnd.apache.arrow.stream"})
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.column("n").to_pylist() == [5]


def test_a_runaway_query_is_stopped_with_a_deadline_error(api: Api) -> None:
    response = api.reader.post("/api/v1/sql", json={"sql": "SELECT count(*) FROM range(100000000000)", "timeoutS": 0.3})
    assert response.status_code == 504
    assert response.json()["error"] == "DeadlineExceededError"
    # The worker is free again.
    assert api.reader.post("/api/v1/sql", json={"sql": "SELECT 1 AS one"}).json()["rows"] == [[1]]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error"),
    [
        ("post", "/api/v1/lineage", {"content": b"{not json"}, 400, "InvalidArgumentError"),
        ("post", "/api/v1/lineage", {"json": {"eventTime": 5, "run": {"runId": 1}, "job": {}}}, 400, "InvalidArgumentError"),
        ("get", "/api/v1/artifacts", {"params": {"pageSize": "many"}}, 400, "InvalidArgumentError"),
        ("get", "/api/v1/artifacts", {"params": {"filterQuery": "uri = = 'x'"}}, 400, "InvalidArgumentError"),
        ("get", "/api/v1/artifacts/1", {"params": {"asOf": "yesterday"}}, 400, "InvalidArgumentError"),
        ("post", "/api/v1/sql", {"json": {"sql": "DELETE FROM artifacts"}}, 403, "PermissionDeniedError"),
        ("post", "/api/v1/sql", {"json": {"sql": "SELEC 1"}}, 400, "InvalidArgumentError"),
        ("post", "/api/v1/lineage", {"content": b"{" + b" " * (10 * 1024 * 1024) + b"}"}, 413, "ResourceExhaustedError"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_reason_and_appends_nothing(
    api: Api, method: str, path: str, kwargs: dict[str, Any], status: int, error: str
) -> None:
    _seed(api)
    before = api.position()
    response = getattr(api.writer, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and response.json()["message"]
    assert api.position() == before


def test_a_missing_or_unknown_token_is_refused_and_a_read_token_cannot_write(api: Api) -> None:
    event = {"eventTime": "2026-01-01T00:00:00Z", "producer": "https://x", "schemaURL": "https://x#/RunEvent",
             "eventType": "START", "run": {"runId": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"},
             "job": {"namespace": "ns", "name": "j"}}
    before = api.position()
    missing = api.anonymous.post("/api/v1/lineage", json=event)
    assert missing.status_code == 401 and missing.json()["error"] == "UnauthenticatedError"
    wrong = api.anonymous.get("/api/v1/artifacts", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    read_only = api.reader.post("/api/v1/lineage", json=event)
    assert read_only.status_code == 403 and read_only.json()["error"] == "PermissionDeniedError"
    assert api.position() == before


def test_ops_written_through_http_carry_the_token_name_not_a_claimed_identity(api: Api) -> None:
    event = {"eventTime": "2026-01-01T00:00:00Z", "producer": "https://x", "schemaURL": "https://x#/RunEvent",
             "eventType": "START", "run": {"runId": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"},
             "job": {"namespace": "ns", "name": "j"}}
    before = api.position()
    response = api.writer.post("/api/v1/lineage", json=event, headers={"X-User": "someone-else"})
    assert response.status_code == 201
    ops = api.reader.get("/api/v1/log/changes", params={"after": before}).json()["ops"]
    assert ops and {op["user"] for op in ops} == {"airflow-prod"}
