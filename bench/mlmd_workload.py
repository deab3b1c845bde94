"""The MLMD reference workload: what every benchmark's ratio divides by, run with ml-metadata's own code.

Runs only in the ml-metadata 1.17.1 reference venv (``tests/mlmd_ref.py``; ml-metadata pins protobuf 4,
which cannot share a process with this package's protobuf 7). ``mlmd_reference_driver.py`` imports it
and calls :func:`run_backend` (``--parts full``) or reuses its store factory, artifact builder and timers
(``--parts ingest``); run alone, it prints or writes the same JSON document::

    python bench/mlmd_workload.py --scale 0.05 --out /tmp/mlmd_workload.json   # the reference venv's python

On each backend (``fake``: MLMD's in-memory ``fake_database``; ``sqlite``: a SQLite file) it runs, at
``scale`` 1 (every count below multiplied by ``scale`` except the chains' 50 steps):

* (a) ``put_artifacts`` of 100k ``DataSet`` artifacts (a uri and 3 properties: ``day`` = i % 1000,
  ``split``, ``score``) in calls of 1,000, building the protos inside the timed loop;
* a ``Run`` context ``big_run`` and the attribution of the first 10k artifacts to it, in calls of 1,000;
* (b) two 50-step chains (one with ``put_executions`` + ``put_artifacts`` + ``put_events`` per step, one
  with ``put_execution``), then a 10k-execution DAG: generations of 1,000 executions, each consuming 2
  artifacts of the previous generation drawn with ``random.Random(42)`` (generation 0 consumes base
  artifacts) and producing 1;
* (c) ``get_artifacts_by_type``, ``get_artifacts_by_id`` of 1 and 100 ids, the filter
  ``properties.day.int_value > 500`` paged by 100 (and ``= 500``, two properties, a context name),
  ``get_artifacts_by_context`` of the 10k members;
* (d) ``get_lineage_subgraph`` upstream from the last chain artifact (20, 40, 100 hops) and from the DAG's
  last generation (20 and 6 hops, and events only);
* (e) every artifact paged 100 per page, and in one unpaged call;
* then, in a store of its own, 5,000 ``put_artifacts`` calls of one artifact.

Result keys (``RESULTS[backend][key]``) start with their part's letter; ``_ms`` / ``_s`` are times (best of
a few runs where the key says so in bench/README.md), ``_n`` / ``_nodes`` the rows returned, which the
benchmarks compare with their own so that both sides answer on the same data. Our benchmarks write the same
data with the same calls in the same order (``bench/reads.py``'s ``workload_writes``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import ml_metadata as mlmd
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb
from ml_metadata.proto import metadata_store_service_pb2 as svc

BATCH = 1000
PAGE = 100
FILTER_GT500 = "properties.day.int_value > 500"
FILTER_EQ500 = "properties.day.int_value = 500"
FILTER_2PROPS = "properties.day.int_value > 500 AND properties.split.string_value = 'train'"
FILTER_CONTEXT = "contexts_a.name = 'big_run'"

RESULTS: dict[str, dict[str, Any]] = {}
"""Every figure measured in this process: ``{backend: {key: value}}``."""


def log(*parts: object) -> None:
    """Progress on stderr (stdout may carry the JSON document)."""
    print(*parts, file=sys.stderr, flush=True)


def record(backend: str, key: str, value: Any) -> None:
    """Keep one figure of ``backend``."""
    RESULTS.setdefault(backend, {})[key] = value


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def best_of(n: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """``(result of the last call, best seconds, mean seconds)`` of ``n`` calls."""
    times, out = [], None
    for _ in range(n):
        out, dt = timed(fn, *args, **kwargs)
        times.append(dt)
    return out, min(times), statistics.fmean(times)


def make_store(backend: str, tmpdir: str, name: str) -> metadata_store.MetadataStore:
    """A new, empty MLMD store: ``fake`` (in-memory) or ``sqlite`` (the file ``tmpdir/name.sqlite``)."""
    config = pb.ConnectionConfig()
    if backend == "fake":
        config.fake_database.SetInParent()
    elif backend == "sqlite":
        path = os.path.join(tmpdir, f"{name}.sqlite")
        if os.path.exists(path):
            os.remove(path)
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    else:
        raise SystemExit(f"unknown MLMD backend {backend!r} (fake, sqlite)")
    return metadata_store.MetadataStore(config)


def artifact_type() -> pb.ArtifactType:
    """The ``DataSet`` type: day INT, split STRING, score DOUBLE."""
    t = pb.ArtifactType(name="DataSet")
    t.properties["day"] = pb.INT
    t.properties["split"] = pb.STRING
    t.properties["score"] = pb.DOUBLE
    return t


def make_artifact(type_id: int, i: int) -> pb.Artifact:
    """Artifact ``i``: uri ``/data/i``, day ``i % 1000``, split train/eval by parity, score ``i / 1000``."""
    a = pb.Artifact(type_id=type_id, uri=f"/data/{i}")
    a.properties["day"].int_value = i % 1000
    a.properties["split"].string_value = "train" if i % 2 else "eval"
    a.properties["score"].double_value = i * 0.001
    return a


@dataclass(frozen=True)
class Sizes:
    """The workload's counts at one scale."""

    artifacts: int
    members: int
    executions: int
    singles: int
    chain_depth: int = 50

    @classmethod
    def at(cls, scale: float) -> Sizes:
        """Counts at ``scale`` (1.0: 100k artifacts, 10k members, 10k DAG executions, 5k single puts)."""
        artifacts = max(2, round(100_000 * scale))
        return cls(artifacts=artifacts, members=min(artifacts, max(1, round(10_000 * scale))),
                   executions=max(2, round(10_000 * scale)), singles=max(1, round(5_000 * scale)))


@dataclass
class Written:
    """Ids the reads start from."""

    type_id: int
    art_ids: list[int]
    ctx_id: int
    chain_arts: list[int]
    last_gen_outputs: list[int]
    ids_sample: list[int]


def write_base(store: Any, backend: str, n: int) -> tuple[int, list[int]]:
    """(a): the type, then ``n`` artifacts in calls of 1,000 (protos built inside the timed loop)."""
    at_id, dt = timed(store.put_artifact_type, artifact_type())
    record(backend, "put_artifact_type_ms", dt * 1e3)
    art_ids: list[int] = []
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        art_ids.extend(store.put_artifacts([make_artifact(at_id, i) for i in range(start, min(start + BATCH, n))]))
    dt = time.perf_counter() - t0
    record(backend, "a_put_artifacts_batch1000_per_s", n / dt)
    record(backend, "a_put_artifacts_batch1000_total_s", dt)
    log(f"[{backend}] (a) put_artifacts batch={BATCH}: {n:,} in {dt:.2f}s -> {n / dt:,.0f} artifacts/s")
    _, dt = timed(lambda: [make_artifact(at_id, i) for i in range(BATCH)])
    record(backend, "a_proto_build_us_per_artifact", dt / BATCH * 1e6)
    calls = 1000
    _, dt = timed(lambda: [store.get_artifact_type("DataSet") for _ in range(calls)])
    record(backend, "get_artifact_type_call_us_mean", dt / calls * 1e6)
    return at_id, art_ids


def write_context(store: Any, backend: str, members: list[int]) -> int:
    """The ``big_run`` context and one attribution per member, in calls of 1,000."""
    ct_id = store.put_context_type(pb.ContextType(name="Run"))
    ctx_id: int = store.put_contexts([pb.Context(type_id=ct_id, name="big_run")])[0]
    t0 = time.perf_counter()
    for start in range(0, len(members), BATCH):
        attrs = [pb.Attribution(artifact_id=a, context_id=ctx_id) for a in members[start:start + BATCH]]
        store.put_attributions_and_associations(attrs, [])
    record(backend, "attributions_per_s", len(members) / (time.perf_counter() - t0))
    return ctx_id


def write_chains(store: Any, backend: str, at_id: int, et_id: int, art_ids: list[int], depth: int) -> list[int]:
    """(b) two chains of ``depth`` steps; returns the first chain's artifacts, its start first."""
    prev = art_ids[0]
    chain = [prev]
    t0 = time.perf_counter()
    for d in range(depth):
        e_id = store.put_executions([pb.Execution(type_id=et_id, last_known_state=pb.Execution.COMPLETE)])[0]
        out = store.put_artifacts([make_artifact(at_id, 10_000_000 + d)])[0]
        store.put_events([pb.Event(artifact_id=prev, execution_id=e_id, type=pb.Event.INPUT),
                          pb.Event(artifact_id=out, execution_id=e_id, type=pb.Event.OUTPUT)])
        chain.append(out)
        prev = out
    dt = time.perf_counter() - t0
    record(backend, "b_chain50_total_ms", dt * 1e3)
    record(backend, "b_chain_step_ms(3 calls)", dt / depth * 1e3)
    prev_a = store.get_artifacts_by_id([art_ids[1]])[0]
    t0 = time.perf_counter()
    for d in range(depth):
        out_a = make_artifact(at_id, 20_000_000 + d)
        _, (_, out_id), _ = store.put_execution(
            pb.Execution(type_id=et_id),
            [(prev_a, pb.Event(type=pb.Event.INPUT)), (out_a, pb.Event(type=pb.Event.OUTPUT))], contexts=[])
        out_a.id = out_id
        prev_a = out_a
    record(backend, "b_chain_step_put_execution_ms", (time.perf_counter() - t0) / depth * 1e3)
    return chain


def write_dag(store: Any, backend: str, at_id: int, et_id: int, base: list[int], n_exec: int,
              rng: random.Random) -> list[int]:
    """(b) the DAG; returns the last generation's outputs."""
    gen_size = min(BATCH, n_exec, len(base))
    n_gen = max(1, n_exec // gen_size)
    prev_gen = base[:gen_size]
    t_exec = t_events = 0.0
    n_events = 0
    t0 = time.perf_counter()
    for g in range(n_gen):
        e_ids, dt = timed(store.put_executions, [
            pb.Execution(type_id=et_id, last_known_state=pb.Execution.COMPLETE) for _ in range(gen_size)])
        t_exec += dt
        o_ids = store.put_artifacts([make_artifact(at_id, 30_000_000 + g * gen_size + k) for k in range(gen_size)])
        events = []
        for k, e in enumerate(e_ids):
            for a in rng.sample(prev_gen, 2):
                events.append(pb.Event(artifact_id=a, execution_id=e, type=pb.Event.INPUT))
            events.append(pb.Event(artifact_id=o_ids[k], execution_id=e, type=pb.Event.OUTPUT))
        _, dt = timed(store.put_events, events)
        t_events += dt
        n_events += len(events)
        prev_gen = list(o_ids)
    total = time.perf_counter() - t0
    executions = n_gen * gen_size
    record(backend, "b_dag_total_s", total)
    record(backend, "b_dag_executions", executions)
    record(backend, "b_dag_executions_per_s(incl outputs+events)", executions / total)
    record(backend, "b_put_executions_per_s", executions / t_exec)
    record(backend, "b_put_events_per_s", n_events / t_events)
    log(f"[{backend}] (b) DAG: {executions:,} executions, {n_events:,} events in {total:.2f}s")
    return prev_gen


def write_all(store: Any, backend: str, sizes: Sizes) -> Written:
    """Every write of the workload, in its order; the 100-id sample is drawn right after the DAG."""
    rng = random.Random(42)
    at_id, art_ids = write_base(store, backend, sizes.artifacts)
    ctx_id = write_context(store, backend, art_ids[:sizes.members])
    et_id = store.put_execution_type(pb.ExecutionType(name="Step"))
    chain = write_chains(store, backend, at_id, et_id, art_ids, sizes.chain_depth)
    last_gen = write_dag(store, backend, at_id, et_id, art_ids, sizes.executions, rng)
    ids_sample = rng.sample(art_ids, min(100, len(art_ids)))
    return Written(at_id, art_ids, ctx_id, chain, last_gen, ids_sample)


def listed(backend: str, key: str, runs: int, fn: Callable[..., list[Any]], *args: Any, **kwargs: Any) -> None:
    """Record ``key_ms`` (best of ``runs``) and ``key_n`` (rows returned) of one listing call."""
    rows, best, _ = best_of(runs, fn, *args, **kwargs)
    record(backend, f"{key}_ms", best * 1e3)
    record(backend, f"{key}_n", len(rows))


def read_point_and_listings(store: Any, backend: str, w: Written) -> None:
    """(c): by type, by id, filters (MLMD's client pages them by 100), by context, events by artifact."""
    opts = metadata_store.ListOptions
    listed(backend, "c_get_artifacts_by_type", 3, store.get_artifacts_by_type, "DataSet")
    _, best, _ = best_of(5, store.get_artifacts_by_id, w.ids_sample)
    record(backend, "c_get_artifacts_by_id_100_ms", best * 1e3)
    _, best, mean = best_of(200, store.get_artifacts_by_id, w.ids_sample[:1])
    record(backend, "c_get_artifacts_by_id_1_ms", best * 1e3)
    record(backend, "c_get_artifacts_by_id_1_mean_ms", mean * 1e3)
    _, best, _ = best_of(5, store.get_events_by_artifact_ids, w.ids_sample)
    record(backend, "c_get_events_by_artifact_ids_100_ms", best * 1e3)
    listed(backend, "c_filter_gt500", 1, store.get_artifacts, list_options=opts(filter_query=FILTER_GT500))
    log(f"[{backend}] (c) filter day > 500 paged {PAGE}: {RESULTS[backend]['c_filter_gt500_n']:,} rows in "
        f"{RESULTS[backend]['c_filter_gt500_ms'] / 1e3:.2f}s")
    listed(backend, "c_filter_eq500", 3, store.get_artifacts, list_options=opts(filter_query=FILTER_EQ500))
    _, best, _ = best_of(3, store.get_artifacts, list_options=opts(limit=PAGE, filter_query=FILTER_2PROPS))
    record(backend, "c_filter_2props_limit100_ms", best * 1e3)
    listed(backend, "c_filter_context_name", 1, store.get_artifacts, list_options=opts(filter_query=FILTER_CONTEXT))
    listed(backend, "c_get_artifacts_by_context", 3, store.get_artifacts_by_context, w.ctx_id)
    _, dt = timed(store.get_artifacts_by_context, w.ctx_id, list_options=opts())
    record(backend, "c_get_artifacts_by_context_paged_ms", dt * 1e3)


def lineage(store: Any, backend: str, key: str, start: int, hops: int, fields: list[str] | None = None) -> None:
    """Record ``key_ms`` (best of 3) and ``key_nodes`` ([artifacts, executions, events]) of one upstream query."""
    query = pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {start}"),
        max_num_hops=hops, direction=pb.LineageSubgraphQueryOptions.UPSTREAM)
    graph, best, _ = best_of(3, store.get_lineage_subgraph, query, fields)
    record(backend, f"{key}_ms", best * 1e3)
    if fields is None:
        record(backend, f"{key}_nodes", [len(graph.artifacts), len(graph.executions), len(graph.events)])


def read_lineage(store: Any, backend: str, w: Written) -> None:
    """(d): upstream from the first chain's end and from the DAG's last generation."""
    for hops in (20, 40, 100):
        lineage(store, backend, f"d_lineage_chain_end_up{hops}", w.chain_arts[-1], hops)
    lineage(store, backend, "d_lineage_dag_last_gen_up20", w.last_gen_outputs[0], 20)
    lineage(store, backend, "d_lineage_dag_last_gen_up6", w.last_gen_outputs[0], 6)
    lineage(store, backend, "d_lineage_dag_up20_events_only", w.last_gen_outputs[0], 20, ["events"])
    log(f"[{backend}] (d) lineage up 20 hops from the DAG: {RESULTS[backend]['d_lineage_dag_last_gen_up20_nodes']} "
        f"in {RESULTS[backend]['d_lineage_dag_last_gen_up20_ms']:.1f} ms")


def read_pages(store: Any, backend: str) -> None:
    """(e): every artifact, 100 per page (one ``GetArtifacts`` request per page, timed each), then unpaged."""
    request = svc.GetArtifactsRequest()
    request.options.max_result_size = PAGE
    times: list[float] = []
    rows = 0
    while True:
        response = svc.GetArtifactsResponse()
        _, dt = timed(store._call, "GetArtifacts", request, response)
        times.append(dt)
        rows += len(response.artifacts)
        if not response.next_page_token:
            break
        request.options.next_page_token = response.next_page_token
    record(backend, "e_paged_all_total_s", sum(times))
    record(backend, "e_paged_all_n", rows)
    record(backend, "e_pages", len(times))
    record(backend, "e_ms_per_page", statistics.fmean(times) * 1e3)
    record(backend, "e_first_page_ms", times[0] * 1e3)
    record(backend, "e_second_page_ms", times[1] * 1e3 if len(times) > 1 else None)
    _, dt = timed(store.get_artifacts)
    record(backend, "e_unpaged_all_s", dt)


def put_singles(store: Any, backend: str, n: int) -> None:
    """``n`` calls of ``put_artifacts`` with one artifact each, on a store holding only the type."""
    at_id = store.put_artifact_type(artifact_type())
    t0 = time.perf_counter()
    for i in range(n):
        store.put_artifacts([make_artifact(at_id, i)])
    dt = time.perf_counter() - t0
    record(backend, "a_put_artifacts_batch1_per_s", n / dt)
    record(backend, "a_put_artifacts_batch1_ms_per_call", dt / n * 1e3)
    record(backend, "a_put_artifacts_batch1_calls", n)
    log(f"[{backend}] (a') put_artifacts batch=1: {dt / n * 1e3:.3f} ms/call")


def run_backend(backend: str, scale: float, tmpdir: str) -> None:
    """The whole workload on one backend at ``scale``; figures in :data:`RESULTS`."""
    sizes = Sizes.at(scale)
    store = make_store(backend, tmpdir, "main")
    w = write_all(store, backend, sizes)
    read_point_and_listings(store, backend, w)
    read_lineage(store, backend, w)
    read_pages(store, backend)
    del store
    put_singles(make_store(backend, tmpdir, "single"), backend, sizes.singles)


def main(argv: list[str] | None = None) -> None:
    """Run the workload on each backend; print (or ``--out``) ``{"version", "scale", "sizes", "results"}``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every count but the chains' (default 1)")
    p.add_argument("--backends", default="fake,sqlite")
    p.add_argument("--out", default=None, help="write the JSON here instead of stdout")
    args = p.parse_args(argv)
    tmpdir = tempfile.mkdtemp(prefix="mlmd_workload_")
    try:
        for backend in args.backends.split(","):
            t0 = time.perf_counter()
            run_backend(backend, args.scale, tmpdir)
            record(backend, "backend_wall_s", time.perf_counter() - t0)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    out = {"version": mlmd.__version__, "scale": args.scale, "sizes": asdict(Sizes.at(args.scale)),
           "results": RESULTS}
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        log(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
