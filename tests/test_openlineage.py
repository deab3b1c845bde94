"""OpenLineage ingestion: the real openlineage-python client over HTTP and Kafka, integration-shaped events,
idempotent retries, order-independent run state, and one lineage graph across OpenLineage and MLMD."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from http_fixtures import WRITE_SECRET, Api
from openlineage.client import OpenLineageClient
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from openlineage_events import airflow_task, as_client_event, dataset, dbt_model, new_run_id, spark_run

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

T0, T1 = "2026-12-07T10:00:00.000000+00:00", "2026-12-07T10:05:00.000000+00:00"


def _client(api: Api) -> OpenLineageClient:
    config = HttpConfig(url=api.server.url, auth=ApiKeyTokenProvider({"apiKey": WRITE_SECRET}))
    return OpenLineageClient(transport=HttpTransport(config))


def _airflow(run_id: str, event_type: str, time_: str) -> dict[str, Any]:
    p = "https://github.com/apache/airflow/tree/providers-openlineage/2.1.0"
    return airflow_task(
        event_type, run_id, time_, dag_run_id=new_run_id(),
        inputs=[dataset("postgres://prod-db:5432", "shop.public.orders", p, "order_id", "amount")],
        outputs=[dataset("s3://lake", "curated/orders.parquet", p, "order_id", "amount")],
    ) | {"run": {"runId": run_id, "facets": {**_airflow_facets(run_id)}}}


_PARENTS: dict[str, str] = {}


def _airflow_facets(run_id: str) -> dict[str, Any]:
    base = airflow_task("START", run_id, T0, dag_run_id=_PARENTS.setdefault(run_id, new_run_id()), inputs=[], outputs=[])
    facets: dict[str, Any] = base["run"]["facets"]
    return facets


def test_the_openlineage_client_over_http_records_airflow_spark_and_dbt_runs(api: Api) -> None:
    client = _client(api)
    runs = {"airflow": new_run_id(), "spark": new_run_id(), "dbt": new_run_id()}
    for event_type, t in (("START", T0), ("COMPLETE", T1)):
        client.emit(as_client_event(_airflow(runs["airflow"], event_type, t)))
        client.emit(as_client_event(spark_run(event_type, runs["spark"], t)))
        client.emit(as_client_event(dbt_model(event_type, runs["dbt"], t)))
    s = api.store
    executions = {e.external_id: e for e in s.get_executions_by_external_ids(list(runs.values()))}
    assert {e.last_known_state for e in executions.values()} == {mlmd.Execution.COMPLETE}
    spark = executions[runs["spark"]]
    assert spark.custom_properties["run.spark_properties"].struct_value["properties"]["spark.master"] == "yarn"
    out = s.get_artifacts_by_external_ids(["s3://lake/warehouse/daily_revenue"])[0]
    assert out.custom_properties["output.outputStatistics"].struct_value["rowCount"] == 31
    assert out.state == mlmd.Artifact.LIVE
    dbt_ctx = s.get_context_by_type_and_name("openlineage.Job", "dbt-prod/jaffle_shop.orders")
    assert dbt_ctx is not None and "job.sql" in dbt_ctx.custom_properties
    # The Airflow task's job is a child of its DAG's job context, and the run is associated with the DAG.
    task = s.get_context_by_type_and_name("openlineage.Job", "airflow-prod/sales_etl.load_orders")
    dag = s.get_context_by_type_and_name("openlineage.Job", "airflow-prod/sales_etl")
    assert [c.id for c in s.get_parent_contexts_by_context(task.id)] == [dag.id]
    assert executions[runs["airflow"]].id in [e.id for e in s.get_executions_by_context(dag.id)]
    events = s.get_events_by_execution_ids([executions[runs["airflow"]].id])
    assert sorted(e.type for e in events) == [mlmd.Event.INPUT, mlmd.Event.OUTPUT]  # COMPLETE repeated them: once
    ops = api.reader.get("/api/v1/log/changes").json()["ops"]
    assert {op["user"] for op in ops} == {"airflow-prod"}  # the write token's name


def test_a_retried_event_appends_nothing(api: Api) -> None:
    event = spark_run("START", new_run_id(), T0)
    assert api.writer.post("/api/v1/lineage", json=event).status_code == 201
    position = api.position()
    for _ in range(3):
        assert api.writer.post("/api/v1/lineage", json=event).status_code == 201
    assert api.position() == position


@pytest.mark.parametrize("order", [("START", "COMPLETE"), ("COMPLETE", "START")])
def test_start_and_complete_in_either_order_end_in_the_same_run(api: Api, order: tuple[str, str]) -> None:
    run_id = "5d1f0c9e-6b7a-4c3d-9e8f-0a1b2c3d4e5f"
    times = {"START": T0, "COMPLETE": T1}
    for event_type in order:
        assert api.writer.post("/api/v1/lineage", json=dbt_model(event_type, run_id, times[event_type])).status_code == 201
    (run,) = api.store.get_executions_by_external_ids([run_id])
    assert run.last_known_state == mlmd.Execution.COMPLETE
    assert run.custom_properties["openlineage.eventType"].string_value == "COMPLETE"
    assert len(api.store.get_events_by_execution_ids([run.id])) == 2


def test_an_airflow_jobs_output_feeding_a_tfx_trainer_is_one_lineage_graph_now_and_as_of(api: Api) -> None:
    run_id = new_run_id()
    assert api.writer.post("/api/v1/lineage", json=_airflow(run_id, "START", T0)).status_code == 201
    # A TFX-style Trainer reads the dataset the Airflow task writes: MLMD's put_execution, the dataset named
    # by its OpenLineage identity (external_id), reused rather than duplicated.
    s = api.store
    examples_type = s.put_artifact_type(mlmd.ArtifactType(name="Examples"))
    model_type = s.put_artifact_type(mlmd.ArtifactType(name="Model"))
    trainer_type = s.put_execution_type(mlmd.ExecutionType(name="Trainer"))
    examples = mlmd.Artifact(type_id=examples_type, external_id="s3://lake/curated/orders.parquet",
                             uri="s3://lake/curated/orders.parquet")
    model = mlmd.Artifact(type_id=model_type, uri="s3://models/orders/1", name="orders-model")
    s.put_execution(
        mlmd.Execution(type_id=trainer_type, last_known_state=mlmd.Execution.COMPLETE),
        [(examples, mlmd.Event(type=mlmd.Event.INPUT)), (model, mlmd.Event(type=mlmd.Event.OUTPUT))],
        [], reuse_artifact_if_already_exist_by_external_id=True,
    )
    before_complete = api.position()
    assert api.writer.post("/api/v1/lineage", json=_airflow(run_id, "COMPLETE", T1)).status_code == 201

    def upstream(as_of: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"startingArtifacts": "uri = 's3://models/orders/1'", "direction": "upstream"}
        if as_of is not None:
            params["asOf"] = as_of
        graph: dict[str, Any] = api.reader.get("/api/v1/lineage-subgraph", params=params).json()
        return graph

    for as_of, state in ((None, "COMPLETE"), (before_complete, "RUNNING")):
        graph = upstream(as_of)
        uris = {a["uri"] for a in graph["artifacts"]}
        assert "postgres://prod-db:5432/shop.public.orders" in uris  # the Airflow job's input
        assert len([a for a in graph["artifacts"] if a["uri"] == "s3://lake/curated/orders.parquet"]) == 1
        (ol_run,) = [e for e in graph["executions"] if e.get("externalId") == run_id]
        assert ol_run["lastKnownState"] == state


def test_the_openlineage_kafka_transport_is_consumed_into_the_store(api: Api, kafka_broker: Any, topic: str) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic
    from openlineage.client.transport.kafka import KafkaConfig, KafkaTransport

    from mlmd_log.http.openlineage_kafka import consume
    from mlmd_log.urls import parse_log_url

    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    config = KafkaConfig(config={"bootstrap.servers": kafka_broker.bootstrap}, topic=topic, flush=True)
    client = OpenLineageClient(transport=KafkaTransport(config))
    run_id = new_run_id()
    for event_type, t in (("START", T0), ("COMPLETE", T1)):
        client.emit(as_client_event(spark_run(event_type, run_id, t)))
    client.close(5)
    source = parse_log_url(kafka_broker.url(topic))
    deadline = time.monotonic() + 30
    report = consume(api.store, source, api.store.settings)
    while report.applied < 2 and time.monotonic() < deadline:
        report = consume(api.store, source, api.store.settings)
    assert report.applied == 2, report
    (run,) = api.store.get_executions_by_external_ids([run_id])
    assert run.last_known_state == mlmd.Execution.COMPLETE
    position = api.position()
    again = consume(api.store, source, api.store.settings)
    assert (again.applied, again.retries) == (0, 2)
    assert api.position() == position


def test_an_invalid_event_is_a_400_with_the_reason(api: Api) -> None:
    event = dbt_model("START", new_run_id(), T0)
    event["run"]["runId"] = "not-a-uuid"
    response = api.writer.post("/api/v1/lineage", json=event)
    assert response.status_code == 400
    assert "runId" in response.json()["message"]
    del event["job"]["namespace"]
    event["run"]["runId"] = new_run_id()
    assert "namespace" in json.dumps(api.writer.post("/api/v1/lineage", json=event).json())
    airflow = _airflow(new_run_id(), "START", T0)
    del airflow["run"]["facets"]["parent"]["job"]["namespace"]  # the parent facet the mapping reads
    response = api.writer.post("/api/v1/lineage", json=airflow)
    assert response.status_code == 400 and "parent" in response.json()["message"]
    assert api.position() == -1  # nothing appended by any of them


def test_dataset_and_job_events_name_the_same_artifacts_and_contexts_as_run_events(api: Api) -> None:
    p = "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/client/python"
    base = {"eventTime": T0, "producer": p}
    orders = dataset("postgres://warehouse:5432", "analytics.staging.stg_orders", p, "order_id")
    dataset_event = {**base, "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
                     "dataset": orders}
    job_event = {**base, "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
                 "job": {"namespace": "dbt-prod", "name": "jaffle_shop.orders"}, "inputs": [orders],
                 "outputs": [dataset("postgres://warehouse:5432", "analytics.marts.orders", p, "order_id")]}
    for event in (dataset_event, job_event, dbt_model("COMPLETE", new_run_id(), T1)):
        response = api.writer.post("/api/v1/lineage", json=event)
        assert response.status_code == 201, response.text
    s = api.store
    found = s.get_artifacts_by_external_ids(["postgres://warehouse:5432/analytics.staging.stg_orders"])
    assert len(found) == 1  # one artifact, named by the dataset event, the job event and the run
    assert "dataset.schema" in found[0].custom_properties
    assert "input.dataQualityAssertions" in found[0].custom_properties  # added by the run's input facets
    job = s.get_context_by_type_and_name("openlineage.Job", "dbt-prod/jaffle_shop.orders")
    assert {a.uri for a in s.get_artifacts_by_context(job.id)} == {
        "postgres://warehouse:5432/analytics.staging.stg_orders", "postgres://warehouse:5432/analytics.marts.orders"}
    assert len(s.get_executions_by_context(job.id)) == 1
