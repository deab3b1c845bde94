"""OpenLineage ingestion through the HTTP API (events/s, p50/p99 with 1, 8 and 32 concurrent clients), and
point-get latency over HTTP against the gRPC path, in one run against one server.

The server is ``python -m mlmd_log.grpc --http-port 0`` over an embedded log, as its own process (so
client threads and server do not share a GIL). Each ingest client posts RunEvents shaped as Airflow's
(START then COMPLETE of its own runs, one input and one output dataset, the input shared by all runs).
Every event is applied before it is answered (read-your-writes), so its latency includes the reads its
mapping makes, the op's append and its projection. Point gets read artifacts created by the ingest, by id:
``GET /api/v1/artifacts/{id}`` (JSON) against ``GetArtifactsByID`` (protobuf) on the same server. As the
reference for ingestion, the same write as one gRPC ``PutExecution`` per event runs at the same concurrency.

    python bench/http_bench.py                 # 200 events per concurrency level, 500 point gets each way
    python bench/http_bench.py --events 1000 --gets 2000

Results: ``bench/results/http.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
from common import REPO_ROOT, fmt, log, machine, print_table, write_results

from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as svc
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2_grpc as svc_grpc

P = "https://github.com/apache/airflow/tree/providers-openlineage/2.1.0"


def _facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": P, "_schemaURL": f"https://openlineage.io/spec/facets/1-0-0/{schema}.json", **fields}


def event(run_id: str, event_type: str, i: int) -> dict[str, Any]:
    return {
        "eventType": event_type, "eventTime": f"2026-12-07T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "producer": P,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {"processing_engine": _facet("ProcessingEngineRunFacet", name="Airflow",
                                                                         version="2.10.4")}},
        "job": {"namespace": "bench", "name": f"dag.task_{i % 20}"},
        "inputs": [{"namespace": "postgres://db:5432", "name": "shop.public.orders"}],
        "outputs": [{"namespace": "s3://lake", "name": f"out/{run_id}"}],
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _run_clients(clients: int, work: Callable[[int], list[float]]) -> tuple[list[float], float]:
    """Run ``work(c)`` in one thread per client; every call's latency (seconds) and the wall time."""
    latencies: list[float] = []
    lock = threading.Lock()

    def run(c: int) -> None:
        mine = work(c)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started


def ingest(url: str, clients: int, events: int) -> dict[str, Any]:
    per_client = max(2, events // clients // 2 * 2)
    errors: list[str] = []

    def work(c: int) -> list[float]:
        mine: list[float] = []
        with httpx.Client(base_url=url, timeout=60) as http:
            for j in range(per_client // 2):
                run_id = str(uuid.uuid4())
                for event_type in ("START", "COMPLETE"):
                    t = time.perf_counter()
                    response = http.post("/api/v1/lineage", json=event(run_id, event_type, c * 1000 + j))
                    mine.append(time.perf_counter() - t)
                    if response.status_code != 201:
                        errors.append(response.text)
        return mine

    latencies, elapsed = _run_clients(clients, work)
    if errors:
        raise SystemExit(f"ingest failed: {errors[:3]}")
    return {"clients": clients, "events": len(latencies), "events_per_s": len(latencies) / elapsed,
            "p50_ms": _percentile(latencies, 0.5) * 1000, "p99_ms": _percentile(latencies, 0.99) * 1000}


def grpc_puts(address: str, clients: int, n: int) -> dict[str, Any]:
    """The same shape of write through gRPC's PutExecution: a new execution, the shared input reused by its
    external_id, a new output, both job contexts reused by name (the store's cost without HTTP or mapping)."""
    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

    with grpc.insecure_channel(address) as channel:
        stub = svc_grpc.MetadataStoreServiceStub(channel)
        run_type = stub.GetExecutionType(svc.GetExecutionTypeRequest(type_name="openlineage.Run")).execution_type.id
        dataset = stub.GetArtifactType(svc.GetArtifactTypeRequest(type_name="openlineage.Dataset")).artifact_type.id
        job_type = stub.GetContextType(svc.GetContextTypeRequest(type_name="openlineage.Job")).context_type.id

    def work(c: int) -> list[float]:
        mine: list[float] = []
        with grpc.insecure_channel(address) as channel:
            stub = svc_grpc.MetadataStoreServiceStub(channel)
            for _ in range(max(1, n // clients)):
                run_id = str(uuid.uuid4())
                request = svc.PutExecutionRequest(
                    execution=mlmd.Execution(type_id=run_type, external_id=run_id, name=run_id,
                                             last_known_state=mlmd.Execution.RUNNING),
                    contexts=[mlmd.Context(type_id=job_type, name=f"bench/dag.task_{c % 20}")],
                    options=svc.PutExecutionRequest.Options(reuse_context_if_already_exist=True,
                                                            reuse_artifact_if_already_exist_by_external_id=True),
                )
                for uri, kind in (("postgres://db:5432/shop.public.orders", mlmd.Event.INPUT),
                                  (f"s3://lake/out/{run_id}", mlmd.Event.OUTPUT)):
                    pair = request.artifact_event_pairs.add()
                    pair.artifact.CopyFrom(mlmd.Artifact(type_id=dataset, uri=uri, external_id=uri))
                    pair.event.type = kind
                t = time.perf_counter()
                stub.PutExecution(request, timeout=60)
                mine.append(time.perf_counter() - t)
        return mine

    latencies, elapsed = _run_clients(clients, work)
    return {"clients": clients, "ops": len(latencies), "ops_per_s": len(latencies) / elapsed,
            "p50_ms": _percentile(latencies, 0.5) * 1000, "p99_ms": _percentile(latencies, 0.99) * 1000}


def point_gets(url: str, grpc_address: str, ids: list[int], n: int) -> dict[str, Any]:
    http_lat: list[float] = []
    grpc_lat: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as http, grpc.insecure_channel(grpc_address) as channel:
        stub = svc_grpc.MetadataStoreServiceStub(channel)
        for i in range(n):  # interleaved, so both paths see the same machine load
            node_id = ids[i % len(ids)]
            t = time.perf_counter()
            assert http.get(f"/api/v1/artifacts/{node_id}").status_code == 200
            http_lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert len(stub.GetArtifactsByID(svc.GetArtifactsByIDRequest(artifact_ids=[node_id])).artifacts) == 1
            grpc_lat.append(time.perf_counter() - t)
    out = {}
    for name, values in (("http", http_lat), ("grpc", grpc_lat)):
        out[name] = {"p50_ms": statistics.median(values) * 1000, "p99_ms": _percentile(values, 0.99) * 1000}
    out["http_over_grpc_p50"] = out["http"]["p50_ms"] / out["grpc"]["p50_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="events per concurrency level")
    parser.add_argument("--gets", type=int, default=500, help="point gets per protocol")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        grpc_port, http_port = Path(tmp) / "grpc.port", Path(tmp) / "http.port"
        command = [sys.executable, "-m", "mlmd_log.grpc", "--log", f"duckdb:///{tmp}/bench.duckdb",
                   "--port", "0", "--port-file", str(grpc_port), "--http-port", "0", "--http-port-file", str(http_port)]
        server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not (grpc_port.exists() and http_port.exists()):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start: {server.stderr.read().decode() if server.stderr else ''}")
                time.sleep(0.1)
            url = f"http://127.0.0.1:{int(http_port.read_text())}"
            address = f"127.0.0.1:{int(grpc_port.read_text())}"
            results = []
            for clients in args.clients:
                log(f"ingest: {clients} clients")
                results.append(ingest(url, clients, args.events))
            with httpx.Client(base_url=url) as http:
                page = http.get("/api/v1/artifacts", params={"pageSize": 100}).json()
            ids = [int(a["id"]) for a in page["items"]]
            log("point gets")
            gets = point_gets(url, address, ids, args.gets)
            puts = []
            for clients in args.clients:
                log(f"gRPC PutExecution: {clients} clients")
                puts.append(grpc_puts(address, clients, args.events // 2))
        finally:
            server.terminate()
            server.wait(30)
    print_table(["clients", "events", "events/s", "p50 ms", "p99 ms"],
                [[str(r["clients"]), str(r["events"]), fmt(r["events_per_s"]), fmt(r["p50_ms"], 1), fmt(r["p99_ms"], 1)]
                 for r in results], title="OpenLineage RunEvents through POST /api/v1/lineage")
    print_table(["clients", "calls", "calls/s", "p50 ms", "p99 ms"],
                [[str(r["clients"]), str(r["ops"]), fmt(r["ops_per_s"]), fmt(r["p50_ms"], 1), fmt(r["p99_ms"], 1)]
                 for r in puts], title="the same write as gRPC PutExecution (the store's cost, no HTTP or mapping)")
    print_table(["path", "p50 ms", "p99 ms"],
                [[k, fmt(gets[k]["p50_ms"], 2), fmt(gets[k]["p99_ms"], 2)] for k in ("http", "grpc")],
                title=f"point get by id (HTTP / gRPC p50: {gets['http_over_grpc_p50']:.2f}x)")
    write_results("http", {"machine": machine(), "ingest": results, "point_get": gets, "grpc_put_execution": puts, "args": vars(args)})


if __name__ == "__main__":
    main()
