"""OpenLineage events shaped as the real integrations emit them (facets, naming, order), built as JSON.

* Airflow (the OpenLineage provider): a task run is ``<dag_id>.<task_id>`` in the scheduler's namespace,
  with ``airflow`` / ``processing_engine`` run facets and a ``parent`` facet naming the DAG run; START
  carries the inputs and outputs, COMPLETE repeats them.
* Spark (openlineage-spark): ``spark_application`` job names with ``spark_properties`` / ``processing_engine``
  run facet, datasets with ``schema`` and ``columnLineage`` facets, ``outputStatistics`` output facets.
* dbt (openlineage-dbt): one run per model, ``<project>.<model>`` job names in the dbt namespace, ``sql``
  job facets and a ``dataQualityAssertions`` input facet.
"""

from __future__ import annotations

import uuid
from typing import Any

PRODUCER_AIRFLOW = "https://github.com/apache/airflow/tree/providers-openlineage/2.1.0"
PRODUCER_SPARK = "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/spark"
PRODUCER_DBT = "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/dbt"
RUN_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def facet(producer: str, schema: str, /, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": f"https://openlineage.io/spec/facets/1-0-0/{schema}.json", **fields}


def dataset(namespace: str, name: str, producer: str, *columns: str, **extra: Any) -> dict[str, Any]:
    fields = [{"name": c, "type": "string"} for c in columns]
    return {"namespace": namespace, "name": name,
            "facets": {"schema": facet(producer, "SchemaDatasetFacet", fields=fields)}, **extra}


def airflow_task(event_type: str, run_id: str, time: str, *, dag_run_id: str, inputs: list[Any],
                 outputs: list[Any]) -> dict[str, Any]:
    p = PRODUCER_AIRFLOW
    return {
        "eventType": event_type, "eventTime": time, "producer": p, "schemaURL": RUN_SCHEMA,
        "run": {"runId": run_id, "facets": {
            "airflow": facet(p, "AirflowRunFacet", dag={"dag_id": "sales_etl"}, task={"task_id": "load_orders"}),
            "processing_engine": facet(p, "ProcessingEngineRunFacet", version="2.10.4", name="Airflow"),
            "parent": facet(p, "ParentRunFacet", run={"runId": dag_run_id},
                            job={"namespace": "airflow-prod", "name": "sales_etl"}),
        }},
        "job": {"namespace": "airflow-prod", "name": "sales_etl.load_orders",
                "facets": {"jobType": facet(p, "JobTypeJobFacet", processingType="BATCH", integration="AIRFLOW",
                                            jobType="TASK")}},
        "inputs": inputs, "outputs": outputs,
    }


def spark_run(event_type: str, run_id: str, time: str) -> dict[str, Any]:
    p = PRODUCER_SPARK
    out = dataset("s3://lake", "warehouse/daily_revenue", p, "day", "revenue")
    out["facets"]["columnLineage"] = facet(p, "ColumnLineageDatasetFacet", fields={
        "revenue": {"inputFields": [{"namespace": "s3://lake", "name": "raw/orders", "field": "amount"}]}})
    out["outputFacets"] = {"outputStatistics": facet(p, "OutputStatisticsOutputDatasetFacet", rowCount=31, size=4096)}
    return {
        "eventType": event_type, "eventTime": time, "producer": p, "schemaURL": RUN_SCHEMA,
        "run": {"runId": run_id, "facets": {
            "spark_properties": facet(p, "SparkPropertiesFacet", properties={
                "spark.app.name": "daily_revenue", "spark.master": "yarn"}),
            "processing_engine": facet(p, "ProcessingEngineRunFacet", version="3.5.1", name="spark"),
        }},
        "job": {"namespace": "spark-jobs", "name": "daily_revenue.execute_insert_into_hadoop_fs_relation_command"},
        "inputs": [dataset("s3://lake", "raw/orders", p, "order_id", "amount")],
        "outputs": [out],
    }


def dbt_model(event_type: str, run_id: str, time: str) -> dict[str, Any]:
    p = PRODUCER_DBT
    source = dataset("postgres://warehouse:5432", "analytics.staging.stg_orders", p, "order_id")
    source["inputFacets"] = {"dataQualityAssertions": facet(
        p, "DataQualityAssertionsDatasetFacet", assertions=[{"assertion": "not_null", "success": True, "column": "order_id"}])}
    return {
        "eventType": event_type, "eventTime": time, "producer": p, "schemaURL": RUN_SCHEMA,
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "dbt-prod", "name": "jaffle_shop.orders",
                "facets": {"sql": facet(p, "SQLJobFacet", query="select * from {{ ref('stg_orders') }}")}},
        "inputs": [source],
        "outputs": [dataset("postgres://warehouse:5432", "analytics.marts.orders", p, "order_id")],
    }


def new_run_id() -> str:
    return str(uuid.uuid4())


def as_client_event(event: dict[str, Any]) -> Any:
    """The same event as openlineage-python's typed RunEvent, so its client (and transports) send it."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (
        DatasetFacet,
        InputDatasetFacet,
        JobFacet,
        OutputDatasetFacet,
        RunFacet,
    )

    def facets(found: dict[str, Any] | None, cls: Any) -> dict[str, Any]:
        out = {}
        for name, body in (found or {}).items():
            fields = {k: v for k, v in body.items() if not k.startswith("_")}
            out[name] = cls(producer=body["_producer"]).with_additional_properties(**fields)
        return out

    def datasets(items: list[dict[str, Any]], cls: Any, extra: str, extra_cls: Any) -> list[Any]:
        return [cls(namespace=d["namespace"], name=d["name"], facets=facets(d.get("facets"), DatasetFacet),
                    **{extra: facets(d.get(extra), extra_cls)}) for d in items]

    return RunEvent(
        eventType=RunState(event["eventType"]), eventTime=event["eventTime"], producer=event["producer"],
        run=Run(runId=event["run"]["runId"], facets=facets(event["run"].get("facets"), RunFacet)),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"],
                facets=facets(event["job"].get("facets"), JobFacet)),
        inputs=datasets(event.get("inputs", []), InputDataset, "inputFacets", InputDatasetFacet),
        outputs=datasets(event.get("outputs", []), OutputDataset, "outputFacets", OutputDatasetFacet),
    )
