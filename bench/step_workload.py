"""One orchestrator step, written only against MLMD's API, so both sides run the same code.

A step records itself as a launcher does: ``put_execution`` of one execution with one input and one output
artifact (each with its event) and its run context, then reads back with ``get_executions_by_id`` and
``get_events_by_execution_ids``. The module imports nothing of ours and nothing of ml-metadata: the caller
passes a store (MLMD's ``MetadataStore``, in-process or over gRPC, or ours) and the matching proto module.

Run by the reference interpreter (ml-metadata 1.17.1's venv) as a script, it measures MLMD and prints JSON::

    python step_workload.py sqlite PATH --steps 200                 # sequential steps, per-step timings
    python step_workload.py sqlite PATH --seconds 15                # as many steps as fit, one client
    python step_workload.py grpc HOST:PORT --steps 200              # MLMD's gRPC client against a server
    python step_workload.py grpc HOST:PORT --seconds 15 --clients 8 # clients in threads, one channel each

:mod:`step` and :mod:`concurrency` import :func:`setup_types` and :func:`run_steps` for our in-process
store and drive this script for MLMD's side.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from typing import Any


def setup_types(store: Any, pb: Any) -> tuple[int, int, int]:
    """Register the step's artifact, execution and context types; their ids."""
    artifact_type = pb.ArtifactType(name="bench.Examples")
    artifact_type.properties["span"] = pb.INT
    execution_type = pb.ExecutionType(name="bench.Trainer")
    execution_type.properties["state"] = pb.STRING
    context_type = pb.ContextType(name="bench.PipelineRun")
    return (
        store.put_artifact_type(artifact_type),
        store.put_execution_type(execution_type),
        store.put_context_type(context_type),
    )


def one_step(store: Any, pb: Any, types: tuple[int, int, int], tag: str, i: int) -> tuple[float, float]:
    """One step; (put seconds, read-back seconds). Raises when the read-back does not match the write."""
    artifact_type_id, execution_type_id, context_type_id = types
    execution = pb.Execution(type_id=execution_type_id, last_known_state=pb.Execution.COMPLETE)
    execution.properties["state"].string_value = "done"
    source = pb.Artifact(type_id=artifact_type_id, uri=f"/data/{tag}/{i}/in", state=pb.Artifact.LIVE)
    source.properties["span"].int_value = i
    output = pb.Artifact(type_id=artifact_type_id, uri=f"/data/{tag}/{i}/out", state=pb.Artifact.LIVE)
    output.properties["span"].int_value = i
    context = pb.Context(type_id=context_type_id, name=f"run-{tag}-{i}")
    pairs = [(source, pb.Event(type=pb.Event.INPUT)), (output, pb.Event(type=pb.Event.OUTPUT))]
    t0 = time.perf_counter()
    execution_id, _artifact_ids, _context_ids = store.put_execution(execution, pairs, [context])
    t1 = time.perf_counter()
    executions = store.get_executions_by_id([execution_id])
    events = store.get_events_by_execution_ids([execution_id])
    t2 = time.perf_counter()
    if len(executions) != 1 or len(events) != 2:
        raise RuntimeError(f"step {i}: read back {len(executions)} executions and {len(events)} events")
    return t1 - t0, t2 - t1


def run_steps(
    store: Any, pb: Any, steps: int | None = None, seconds: float | None = None, warmup: int = 10
) -> dict[str, list[float]]:
    """Sequential steps (``steps`` of them, or as many as fit in ``seconds``); per-step put and read seconds."""
    types = setup_types(store, pb)
    tag = uuid.uuid4().hex[:8]
    for i in range(warmup):
        one_step(store, pb, types, f"{tag}w", i)
    put: list[float] = []
    read: list[float] = []
    deadline = time.perf_counter() + seconds if seconds is not None else None
    i = 0
    while (steps is None or i < steps) and (deadline is None or time.perf_counter() < deadline):
        p, r = one_step(store, pb, types, tag, i)
        put.append(p)
        read.append(r)
        i += 1
    return {"put_s": put, "read_s": read}


def run_clients(make_store: Any, pb: Any, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads, each with its own store, doing steps for ``seconds``; per-step seconds and wall."""
    stores = [make_store() for _ in range(clients)]
    types = setup_types(stores[0], pb)
    for k, store in enumerate(stores):
        one_step(store, pb, types, f"warm{uuid.uuid4().hex[:6]}{k}", 0)
    barrier = threading.Barrier(clients + 1)
    results: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def client(k: int) -> None:
        tag = f"{uuid.uuid4().hex[:6]}c{k}"
        barrier.wait()
        i = 0
        try:
            while not stop.is_set():
                p, r = one_step(stores[k], pb, types, tag, i)
                results[k].append(p + r)
                i += 1
        except BaseException as err:  # reported, not swallowed
            errors.append(err)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return {"step_s": [s for r in results for s in r], "wall_s": wall}


def _mlmd_store(backend: str, target: str) -> Any:
    """MLMD's own ``MetadataStore``: on a SQLite file, or a gRPC client of the server at HOST:PORT."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    if backend == "sqlite":
        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = target
        config.sqlite.connection_mode = 3  # READWRITE_OPENCREATE
        return metadata_store.MetadataStore(config)
    host, port = target.rsplit(":", 1)
    client = metadata_store_pb2.MetadataStoreClientConfig(host=host, port=int(port))
    return metadata_store.MetadataStore(client)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("backend", choices=("sqlite", "grpc"))
    p.add_argument("target", help="SQLite file path, or HOST:PORT of a gRPC server")
    p.add_argument("--steps", type=int)
    p.add_argument("--seconds", type=float)
    p.add_argument("--clients", type=int, default=0, help="> 0: that many concurrent clients (with --seconds)")
    args = p.parse_args()
    from ml_metadata.proto import metadata_store_pb2 as pb

    if args.clients:
        out = run_clients(lambda: _mlmd_store(args.backend, args.target), pb, args.clients, args.seconds)
    else:
        out = run_steps(_mlmd_store(args.backend, args.target), pb, args.steps, args.seconds)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
