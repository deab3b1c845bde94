"""Reads (docs/design.md, "Targets"): MLMD's read calls on its reference workload's data, as ratios to MLMD.

The data set is the one MLMD's reference workload builds (bench/README.md; 110,100 artifacts: 100k with
3 properties, two 50-step chains, a 10k-execution DAG; a context with 10k attributed artifacts),
written with **our Producer API and the workload's own calls in its order** (so ids, the DAG drawn
with ``random.Random(42)`` and every property value match MLMD's), over a log that only collects
the encoded ops; the ops are then projected into a DuckDB file by
``mlmd_log.projector.engine.Projector`` in transactions of at most 2,000 ops / 4 MiB,
much as a Kafka deployment's projector builds it. Every read goes
through the public API:

* ``mlmd_log.store.open_reader(path)`` (read-only, no cache: every read is a DuckDB query), and
* ``mlmd_log.connect("duckdb:///path")`` for point gets served by the store's node cache (warm).

Measured (MLMD keys of the reference in brackets; MLMD reads its in-memory and SQLite stores):

* get_artifacts_by_type, 110k rows [c_get_artifacts_by_type_ms], best of 3;
* filter ``properties.day.int_value > 500`` (54,890 matches) paged 100 per page with
  ``get_nodes_page("artifact", ListOptions(limit=100, filter_query=...), token)`` through every
  match [c_filter_gt500_ms: MLMD's get_artifacts with the same filter, paged 100], best of 2,
  total and per page;
* get_artifacts_by_context, 10k members [c_get_artifacts_by_context_ms], best of 3;
* get_artifacts_by_id, 1 id: p50 over 500 different ids (DB path, open_reader) and over 5,000
  calls on 1,000 cached ids (connect, warm cache); MLMD: best and mean of 200 calls on one id
  [c_get_artifacts_by_id_1_ms, _mean_ms]. 100 ids: the workload's sample, best of 5
  [c_get_artifacts_by_id_100_ms];
* paging through all 110,100 artifacts, 100 per page with ``get_nodes_page`` [e_paged_all_total_s];
* as-of vs current (target as-of <= 2x current): 4 more rounds each updating 50k artifacts
  (``day`` changes) are appended; ``as_of`` = the log position after round 2; the same filter
  listing (paged), its first page, get_artifacts_by_type and point gets, as of that position vs now;
* ``--scale`` (scale curve, target each < 2x slower from the smallest to the largest size): for
  each size N (default 100k and 1M artifacts) a separate store with N artifacts, each updated
  once (2 versions per artifact: history), and a DAG of N/10 executions (2 inputs, 1 output each,
  generations of 1,000): the first filter page (in every ordering too: id, create and update time, both
  directions), the mean page over the first 50 pages, a point get (DB path and warm cache) and the
  20-hop upstream lineage from the last generation. ``--keep --workdir DIR`` keeps the files and
  ``--reuse`` measures them again without building them.

``--profile`` profiles (cProfile, plus SQL time per statement measured by wrapping the reader's
connection) every read path that misses its target, into ``bench/results/reads_profile.txt``.

Usage::

    python bench/reads.py                                   # measures MLMD's whole workload too (~3 min)
    python bench/reads.py --reference-from bench/results/reads.json --scale --profile
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    ARTIFACTS_PER_BATCH,
    REPO_ROOT,
    RESULTS_DIR,
    artifact_type,
    fmt,
    fmt_ratio,
    log,
    machine,
    make_artifact,
    print_table,
    profile_rows,
    ratio,
    write_profile_text,
    write_results,
)
from mlmd_reference import BACKEND_NAMES, BACKENDS, add_reference_args, figure, measure_reference

FILTER = "properties.day.int_value > 500"
PAGE = 100
#: Projector transaction bounds: the Kafka projector's defaults (Settings.batch_max_ops / batch_max_bytes).
TX_MAX_OPS = 2_000
TX_MAX_BYTES = 4 * 1024 * 1024
T0_MS = 1_767_225_600_000  # record times: 2026-01-01 + 1 ms per position


# -- building the data set ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Receipt:
    op_id: str
    at: int

    def position(self, timeout: float | None = None) -> int:
        return self.at


class CollectingLog:
    """An OpLog that keeps the producer's encoded ops in order (position = index), as a topic would."""

    def __init__(self, start: int = 0) -> None:
        self.start = start
        self.ops: list[bytes] = []

    def append(self, op_id: str, data: bytes, *, wait: bool = False) -> _Receipt:
        self.ops.append(data)
        return _Receipt(op_id, self.start + len(self.ops) - 1)

    def lease(self, op_id: str, data: bytes) -> int:
        return self.append(op_id, data).at

    def sync(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass

    @property
    def next_position(self) -> int:
        return self.start + len(self.ops)

    def records(self, since: int = 0) -> list[Any]:
        """LogRecords of the ops at positions >= ``since``."""
        from mlmd_log.projector.records import LogRecord

        first = max(since - self.start, 0)
        return [LogRecord(self.start + i, T0_MS + self.start + i, None, d) for i, d in
                enumerate(self.ops[first:], first)]


def producer_over(oplog: CollectingLog) -> Any:
    from mlmd_log.producer.api import Producer
    from mlmd_log.settings import Settings

    return Producer(oplog, Settings())  # type: ignore[arg-type]


def project(path: Path, records: Sequence[Any]) -> dict[str, Any]:
    """Project ``records`` into the DuckDB file at ``path`` in Kafka-projector-sized transactions."""
    import duckdb

    from mlmd_log.projector.engine import Projector

    con = duckdb.connect(str(path))
    t0 = time.perf_counter()
    projector = Projector(con)
    rejected, batch, size, txs = 0, [], 0, 0
    for r in [*records, None]:
        if r is not None:
            batch.append(r)
            size += len(r.value)
        if batch and (r is None or len(batch) >= TX_MAX_OPS or size >= TX_MAX_BYTES):
            report = projector.project(batch)
            rejected += len(report.rejected)
            for o in report.rejected:
                log(f"PROBLEM: op at {o.position} rejected: {o.error}")
            batch, size, txs = [], 0, txs + 1
    seconds = time.perf_counter() - t0
    con.close()
    return {"ops": len(records), "transactions": txs, "seconds": round(seconds, 2), "rejected": rejected}


@dataclass
class Workload:
    """Ids the reference workload keeps, in its own variable names."""

    type_id: int = 0
    art_ids: list[int] = field(default_factory=list)
    ctx_id: int = 0
    chain_arts: list[int] = field(default_factory=list)
    last_gen_outputs: list[int] = field(default_factory=list)
    ids_sample: list[int] = field(default_factory=list)
    dag_executions: int = 0
    dag_events: int = 0


def workload_writes(store: Any, n_art: int = 100_000, n_ctx: int = 10_000, n_exec: int = 10_000,
                    chain_depth: int = 50, with_context: bool = True, with_chains: bool = True,
                    timings: dict[str, float] | None = None) -> Workload:
    """The reference workload's writes (parts a, context, b), with its calls in its order, on ``store``.

    ``store`` has our write API (a connected store or a bare Producer). ``timings`` receives the
    seconds of each part when given.
    """
    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as pb

    timings = {} if timings is None else timings
    w = Workload()
    rng = random.Random(42)
    batch = ARTIFACTS_PER_BATCH
    t = time.perf_counter()
    w.type_id = at_id = store.put_artifact_type(artifact_type())
    for start in range(0, n_art, batch):
        w.art_ids.extend(store.put_artifacts([make_artifact(at_id, i) for i in range(start, min(start + batch, n_art))]))
    timings["a_put_artifacts_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if with_context:
        ct_id = store.put_context_type(pb.ContextType(name="Run"))
        w.ctx_id = store.put_contexts([pb.Context(type_id=ct_id, name="big_run")])[0]
        for start in range(0, n_ctx, batch):
            attrs = [pb.Attribution(artifact_id=a, context_id=w.ctx_id) for a in w.art_ids[start:start + batch]]
            store.put_attributions_and_associations(attrs, [])
    timings["attributions_s"] = time.perf_counter() - t
    t = time.perf_counter()
    et_id = store.put_execution_type(pb.ExecutionType(name="Step"))
    if with_chains:
        prev = w.art_ids[0]
        w.chain_arts = [prev]
        for d in range(chain_depth):
            e_id = store.put_executions([pb.Execution(type_id=et_id, last_known_state=pb.Execution.COMPLETE)])[0]
            out = store.put_artifacts([make_artifact(at_id, 10_000_000 + d)])[0]
            store.put_events([pb.Event(artifact_id=prev, execution_id=e_id, type=pb.Event.INPUT),
                              pb.Event(artifact_id=out, execution_id=e_id, type=pb.Event.OUTPUT)])
            prev = out
            w.chain_arts.append(out)
        # The workload reads art_ids[1] back and passes it whole; ours is the same artifact with its id.
        prev_a = make_artifact(at_id, 1)
        prev_a.id = w.art_ids[1]
        for d in range(chain_depth):
            out_a = make_artifact(at_id, 20_000_000 + d)
            _, (_in_id, out_id), _ = store.put_execution(
                pb.Execution(type_id=et_id),
                [(prev_a, pb.Event(type=pb.Event.INPUT)), (out_a, pb.Event(type=pb.Event.OUTPUT))], contexts=[])
            out_a.id = out_id
            prev_a = out_a
    timings["chains_s"] = time.perf_counter() - t
    t = time.perf_counter()
    position = getattr(getattr(store, "_log", None), "next_position", None)
    if position is not None:  # a collecting log: where the DAG's ops start
        timings["dag_first_position"] = position
    gen_size = min(1000, n_exec)
    n_gen = max(1, n_exec // gen_size)
    prev_gen = w.art_ids[:gen_size]
    for g in range(n_gen):
        e_ids = store.put_executions([pb.Execution(type_id=et_id, last_known_state=pb.Execution.COMPLETE)
                                      for _ in range(gen_size)])
        o_ids = store.put_artifacts([make_artifact(at_id, 30_000_000 + g * gen_size + k) for k in range(gen_size)])
        events = []
        for k, e in enumerate(e_ids):
            for a in rng.sample(prev_gen, 2):
                events.append(pb.Event(artifact_id=a, execution_id=e, type=pb.Event.INPUT))
            events.append(pb.Event(artifact_id=o_ids[k], execution_id=e, type=pb.Event.OUTPUT))
        store.put_events(events)
        w.dag_events += len(events)
        prev_gen = o_ids
    w.dag_executions = n_gen * gen_size
    w.last_gen_outputs = list(prev_gen)
    timings["dag_s"] = time.perf_counter() - t
    w.ids_sample = rng.sample(w.art_ids, 100)  # the workload draws its sample right after the DAG
    return w


def update_rounds(producer: Any, w: Workload, rounds: int, per_round: int) -> list[int]:
    """Append ``rounds`` rounds of updates (full replace, ``day`` moved by 7 * round) of ``per_round``
    base artifacts each; returns the log position just before each round's first op (for as_of)."""
    marks = []
    for r in range(1, rounds + 1):
        marks.append(producer._log.next_position - 1)
        first = ((r - 1) * per_round) % len(w.art_ids)
        ids = [w.art_ids[(first + k) % len(w.art_ids)] for k in range(per_round)]
        for start in range(0, per_round, ARTIFACTS_PER_BATCH):
            batch = []
            for j in range(start, min(start + ARTIFACTS_PER_BATCH, per_round)):
                i = (first + j) % len(w.art_ids)
                a = make_artifact(w.type_id, i)
                a.id = ids[j]
                a.properties["day"].int_value = (i + 7 * r) % 1000
                batch.append(a)
            producer.put_artifacts(batch)
    marks.append(producer._log.next_position - 1)
    return marks


# -- timing helpers ------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def best_of(n: int, fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, best seconds, median seconds) of ``n`` runs."""
    times, out = [], None
    for _ in range(n):
        out, dt = timed(fn)
        times.append(dt)
    return out, min(times), statistics.median(times)


def per_call(fn: Callable[[Any], Any], args: Sequence[Any]) -> dict[str, float]:
    """Latency of ``fn(arg)`` for each arg: p50, p90, p99, mean, best (ms)."""
    times = []
    gc.disable()
    try:
        for a in args:
            t = time.perf_counter()
            fn(a)
            times.append(time.perf_counter() - t)
    finally:
        gc.enable()
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1e3  # noqa: E731
    return {"p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "mean_ms": statistics.fmean(times) * 1e3,
            "best_ms": times[0] * 1e3, "calls": len(times)}


def page_through(reader: Any, options: Any, as_of: int | None = None, max_pages: int | None = None,
                 as_of_every_page: bool = True) -> dict[str, Any]:
    """Every page of a ``get_nodes_page`` listing: rows, pages, total and per-page seconds."""
    token, rows, pages, times = None, 0, 0, []
    while True:
        kw = {"as_of": as_of} if as_of is not None and (as_of_every_page or token is None) else {}
        t = time.perf_counter()
        nodes, token = reader.get_nodes_page("artifact", options, token, **kw)
        times.append(time.perf_counter() - t)
        rows += len(nodes)
        pages += 1
        if token is None or (max_pages is not None and pages >= max_pages):
            break
    return {"rows": rows, "pages": pages, "total_s": sum(times), "first_page_ms": times[0] * 1e3,
            "page_mean_ms": statistics.fmean(times) * 1e3, "page_p50_ms": statistics.median(times) * 1e3,
            "page_max_ms": max(times) * 1e3}


def best_listing(n: int, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    runs = [fn() for _ in range(n)]
    best = min(runs, key=lambda r: r["total_s"])
    best["runs_total_s"] = [round(r["total_s"], 4) for r in runs]
    return best


@contextmanager
def opened_reader(path: Path) -> Iterator[Any]:
    from mlmd_log.store import open_reader

    reader = open_reader(str(path))
    try:
        yield reader
    finally:
        reader.con.close()


@contextmanager
def connected(path: Path) -> Iterator[Any]:
    import mlmd_log

    store = mlmd_log.connect(f"duckdb:///{path}")  # an absolute path gives duckdb:////abs/path
    try:
        yield store
    finally:
        store.close()


def lineage_query(start_id: int, hops: int = 20) -> Any:
    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as pb

    return pb.LineageSubgraphQueryOptions(
        starting_artifacts=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {start_id}"),
        max_num_hops=hops, direction=pb.LineageSubgraphQueryOptions.UPSTREAM)


# -- SQL time per statement, for profiles ----------------------------------------------------------------


class _TimedResult:
    def __init__(self, owner: SqlTimer, sql: str, res: Any) -> None:
        self._owner, self._sql, self._res = owner, sql, res

    def _time(self, name: str, *a: Any) -> Any:
        t = time.perf_counter()
        out = getattr(self._res, name)(*a)
        self._owner.add(self._sql, time.perf_counter() - t)
        return out

    def fetchall(self) -> Any:
        return self._time("fetchall")

    def fetchone(self) -> Any:
        return self._time("fetchone")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._res, name)


class SqlTimer:
    """Stands in for a reader's connection: times every statement (execute + fetch), by SQL text."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.stats: dict[str, list[float]] = {}

    def add(self, sql: str, dt: float) -> None:
        self.stats.setdefault(sql, [0, 0.0])[1] += dt

    def execute(self, sql: str, params: Any = None) -> Any:
        t = time.perf_counter()
        res = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        entry = self.stats.setdefault(sql, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - t
        return _TimedResult(self, sql, res)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)

    def rows(self, total_s: float) -> list[dict[str, Any]]:
        out = [{"sql": " ".join(sql.split())[:300], "calls": int(c), "seconds": round(s, 4),
                "share_pct": round(100 * s / total_s, 1) if total_s else None}
               for sql, (c, s) in self.stats.items()]
        return sorted(out, key=lambda r: r["seconds"], reverse=True)


def profile_call(name: str, reader: Any, fn: Callable[[], Any], reps: int, text_path: Path,
                 mode: str) -> dict[str, Any]:
    """cProfile ``fn`` ``reps`` times with the reader's SQL timed per statement; append a text report."""
    timer = SqlTimer(reader.con)
    reader.con = timer
    stats_file = Path(tempfile.mkstemp(suffix=".prof")[1])
    prof = cProfile.Profile()
    t = time.perf_counter()
    try:
        prof.enable()
        for _ in range(reps):
            fn()
        prof.disable()
    finally:
        reader.con = timer.con
    total = time.perf_counter() - t
    prof.dump_stats(str(stats_file))
    cum, own = profile_rows(stats_file, "cumulative", 25), profile_rows(stats_file, "tottime", 15)
    stats_file.unlink()
    sql_rows = timer.rows(total)
    header = (f"### {name}: {reps} call(s), {total:.3f} s under the profiler; SQL (execute + fetch) "
              f"{sum(r['seconds'] for r in sql_rows):.3f} s of it")
    write_profile_text(text_path, header, cum, own, mode=mode)
    with text_path.open("a") as f:
        f.write("== SQL statements by time (execute + fetch, wall) ==\n")
        for r in sql_rows[:10]:
            f.write(f"{r['seconds']:>8.3f} s {r['share_pct']:>5}% {r['calls']:>6} calls  {r['sql']}\n")
        f.write("\n")
    return {"profiled_s": round(total, 3), "reps": reps, "sql": sql_rows[:10], "top_cumulative": cum[:15],
            "top_own": own}


# -- the measurements ---------------------------------------------------------------------------------


def build_workload_file(path: Path, hist_path: Path | None, update_round_count: int, per_round: int) -> dict[str, Any]:
    """Write the workload through our Producer API and project it into ``path``; then a copy of that file
    at ``hist_path`` receives the update rounds (history, for as-of reads)."""
    oplog = CollectingLog()
    producer = producer_over(oplog)
    write_t: dict[str, float] = {}
    (w, api_s) = timed(lambda: workload_writes(producer, timings=write_t))
    workload_ops = oplog.next_position
    base = project(path, oplog.records())
    log(f"workload: {workload_ops:,} ops through the Producer API in {api_s:.1f} s, projected in "
        f"{base['seconds']} s ({base['transactions']} transactions)")
    marks = update_rounds(producer, w, update_round_count, per_round)
    upd = None
    if hist_path is not None:
        shutil.copy(path, hist_path)
        upd = project(hist_path, oplog.records(since=workload_ops))
    if upd:
        log(f"updates: {update_round_count} rounds x {per_round:,} artifacts, {upd['ops']} ops, projected in "
            f"{upd['seconds']} s")
    return {"workload": w, "workload_ops": workload_ops, "last_workload_position": workload_ops - 1,
            "update_marks": marks, "projection": base, "updates_projection": upd,
            "producer_api_s": round(api_s, 2)}


def check_same_data(reader: Any, w: Workload, ref: dict[str, Any]) -> dict[str, Any]:
    """Counts that must equal MLMD's for the comparison to hold."""
    n_all = reader.sql("SELECT count(*) AS n FROM artifacts").column(0)[0].as_py()
    ctx = len(reader.get_artifacts_by_context(w.ctx_id))
    g = reader.get_lineage_subgraph(lineage_query(w.last_gen_outputs[0]))
    ours = {"artifacts": n_all, "filter_matches": None, "context_members": ctx,
            "lineage_nodes": [len(g.artifacts), len(g.executions), len(g.events)]}
    theirs = {"artifacts": figure(ref, "sqlite", "c_get_artifacts_by_type_n"),
              "filter_matches": figure(ref, "sqlite", "c_filter_gt500_n"),
              "context_members": figure(ref, "sqlite", "c_get_artifacts_by_context_n"),
              "lineage_nodes": ref.get("results", {}).get("sqlite", {}).get("d_lineage_dag_last_gen_up20_nodes")}
    return {"ours": ours, "mlmd": theirs}


def measure_current(path: Path, w: Workload, ref: dict[str, Any]) -> dict[str, Any]:
    from mlmd_log import ListOptions

    out: dict[str, Any] = {}
    rng = random.Random(7)
    with opened_reader(path) as r:
        out["check"] = check_same_data(r, w, ref)
        got, best, med = best_of(3, lambda: r.get_artifacts_by_type("DataSet"))
        out["get_artifacts_by_type"] = {"rows": len(got), "best_ms": best * 1e3, "median_ms": med * 1e3}
        log(f"get_artifacts_by_type: {len(got):,} rows, best {best * 1e3:.0f} ms")
        del got
        lst = best_listing(2, lambda: page_through(r, ListOptions(limit=PAGE, filter_query=FILTER)))
        out["filter_paged"] = lst
        out["check"]["ours"]["filter_matches"] = lst["rows"]
        log(f"filter paged: {lst['rows']:,} rows, {lst['pages']} pages, {lst['total_s']:.2f} s, "
            f"{lst['page_mean_ms']:.1f} ms/page")
        got, best, med = best_of(3, lambda: r.get_artifacts_by_context(w.ctx_id))
        out["get_artifacts_by_context"] = {"rows": len(got), "best_ms": best * 1e3, "median_ms": med * 1e3}
        log(f"get_artifacts_by_context: {len(got):,} rows, best {best * 1e3:.1f} ms")
        ids = rng.sample(w.art_ids, 500)
        out["by_id_1_db"] = per_call(lambda i: r.get_artifacts_by_id([i]), ids)
        out["by_id_1_db_same_id"] = per_call(lambda i: r.get_artifacts_by_id([i]), [w.ids_sample[0]] * 200)
        _, best, med = best_of(5, lambda: r.get_artifacts_by_id(w.ids_sample))
        out["by_id_100_db"] = {"best_ms": best * 1e3, "median_ms": med * 1e3}
        samples = [rng.sample(w.art_ids, 100) for _ in range(50)]
        out["by_id_100_db_random"] = per_call(r.get_artifacts_by_id, samples)
        log(f"by id: 1 id p50 {out['by_id_1_db']['p50_ms']:.3f} ms (DB); 100 ids best {best * 1e3:.2f} ms (DB)")
        lst = best_listing(2, lambda: page_through(r, ListOptions(limit=PAGE)))
        out["paged_all"] = lst
        log(f"paged all: {lst['rows']:,} rows, {lst['pages']} pages, {lst['total_s']:.2f} s")
        _, best, med = best_of(3, lambda: r.get_lineage_subgraph(lineage_query(w.last_gen_outputs[0])))
        out["lineage_up20"] = {"best_ms": best * 1e3, "median_ms": med * 1e3}
    with connected(path) as s:
        warm = rng.sample(w.art_ids, 1000)
        for i in warm:
            s.get_artifacts_by_id([i])
        calls = [warm[k % len(warm)] for k in range(5000)]
        out["by_id_1_cache"] = per_call(lambda i: s.get_artifacts_by_id([i]), calls)
        out["by_id_1_cache_same_id"] = per_call(lambda i: s.get_artifacts_by_id([i]), [warm[0]] * 200)
        s.get_artifacts_by_id(w.ids_sample)
        _, best, med = best_of(5, lambda: s.get_artifacts_by_id(w.ids_sample))
        out["by_id_100_cache"] = {"best_ms": best * 1e3, "median_ms": med * 1e3}
        log(f"by id (warm cache): 1 id p50 {out['by_id_1_cache']['p50_ms'] * 1e3:.1f} us; "
            f"100 ids best {best * 1e3:.3f} ms")
    return out


def measure_as_of(path: Path, w: Workload, as_of: int) -> dict[str, Any]:
    """The same reads as of ``as_of`` and on current state."""
    from mlmd_log import ListOptions

    out: dict[str, Any] = {"as_of_position": as_of}
    rng = random.Random(11)
    ids = rng.sample(w.art_ids, 500)
    with opened_reader(path) as r:
        out["log_position"] = r.log_position()
        out["version_rows"] = r.sql("SELECT count(*) FROM artifact_versions").column(0)[0].as_py()
        # as_of reads the past: base artifact 0 has day 7 after round 2 (as_of) and 21 after round 3 (now).
        (then,) = r.get_artifacts_by_id([w.art_ids[0]], as_of=as_of)
        (now,) = r.get_artifacts_by_id([w.art_ids[0]])
        out["check_day_of_artifact_0"] = {"as_of": then.properties["day"].int_value,
                                          "current": now.properties["day"].int_value}
        for label, at in (("current", None), ("as_of", as_of)):
            d: dict[str, Any] = {}
            d["filter_paged"] = best_listing(2, lambda at=at: page_through(r, ListOptions(limit=PAGE, filter_query=FILTER), at))
            d["filter_paged_as_of_first_page_only"] = (
                best_listing(2, lambda at=at: page_through(r, ListOptions(limit=PAGE, filter_query=FILTER), at,
                                                           as_of_every_page=False)) if at is not None else None)
            _, best, med = best_of(7, lambda at=at: r.get_nodes_page(
                "artifact", ListOptions(limit=PAGE, filter_query=FILTER), None, as_of=at))
            d["filter_first_page"] = {"best_ms": best * 1e3, "median_ms": med * 1e3}
            got, best, med = best_of(3, lambda at=at: r.get_artifacts_by_type("DataSet", as_of=at))
            d["get_artifacts_by_type"] = {"rows": len(got), "best_ms": best * 1e3, "median_ms": med * 1e3}
            del got
            d["by_id_1_db"] = per_call(lambda i, at=at: r.get_artifacts_by_id([i], as_of=at), ids)
            out[label] = d
            log(f"{label}: filter paged {d['filter_paged']['rows']:,} rows {d['filter_paged']['total_s']:.2f} s; "
                f"first page {d['filter_first_page']['median_ms']:.1f} ms; by type "
                f"{d['get_artifacts_by_type']['best_ms']:.0f} ms; point get p50 {d['by_id_1_db']['p50_ms']:.3f} ms")
    return out


def build_scale_file(path: Path, n: int) -> dict[str, Any]:
    """N artifacts (3 properties), each updated once, and a DAG of N/10 executions (generations of 1,000)."""
    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as pb

    oplog = CollectingLog()
    p = producer_over(oplog)
    t = time.perf_counter()
    at_id = p.put_artifact_type(artifact_type())
    et_id = p.put_execution_type(pb.ExecutionType(name="Step"))
    ids: list[int] = []
    for start in range(0, n, ARTIFACTS_PER_BATCH):
        ids.extend(p.put_artifacts([make_artifact(at_id, i) for i in range(start, min(start + ARTIFACTS_PER_BATCH, n))]))
    for start in range(0, n, ARTIFACTS_PER_BATCH):  # history: every artifact updated once (day + 1)
        batch = []
        for i in range(start, min(start + ARTIFACTS_PER_BATCH, n)):
            a = make_artifact(at_id, i)
            a.id = ids[i]
            a.properties["day"].int_value = (i + 1) % 1000
            batch.append(a)
        p.put_artifacts(batch)
    rng = random.Random(42)
    prev_gen = ids[:1000]
    n_gen = max(1, n // 10 // 1000)
    for g in range(n_gen):
        e_ids = p.put_executions([pb.Execution(type_id=et_id, last_known_state=pb.Execution.COMPLETE) for _ in range(1000)])
        o_ids = p.put_artifacts([make_artifact(at_id, 30_000_000 + g * 1000 + k) for k in range(1000)])
        events = []
        for k, e in enumerate(e_ids):
            for a in rng.sample(prev_gen, 2):
                events.append(pb.Event(artifact_id=a, execution_id=e, type=pb.Event.INPUT))
            events.append(pb.Event(artifact_id=o_ids[k], execution_id=e, type=pb.Event.OUTPUT))
        p.put_events(events)
        prev_gen = o_ids
    api_s = time.perf_counter() - t
    proj = project(path, oplog.records())
    log(f"scale {n:,}: {oplog.next_position:,} ops (API {api_s:.1f} s), projected in {proj['seconds']} s")
    return {"n": n, "ids": ids, "start": prev_gen[0], "executions": n_gen * 1000, "ops": oplog.next_position,
            "projection": proj}


def measure_scale_point(path: Path, built: dict[str, Any]) -> dict[str, Any]:
    from mlmd_log import ListOptions
    from mlmd_log.query.options import OrderByField

    orderings = [(o, asc) for o in (OrderByField.ID, OrderByField.CREATE_TIME, OrderByField.UPDATE_TIME)
                 for asc in (True, False)]

    rng = random.Random(5)
    ids = rng.sample(built["ids"], 500)
    out: dict[str, Any] = {"n": built["n"], "executions": built["executions"], "ops": built["ops"],
                           "projection_s": built["projection"]["seconds"]}
    with opened_reader(path) as r:
        out["artifact_version_rows"] = r.sql("SELECT count(*) FROM artifact_versions").column(0)[0].as_py()
        out["event_rows"] = r.sql("SELECT count(*) FROM event_versions").column(0)[0].as_py()
        opts = ListOptions(limit=PAGE, filter_query=FILTER)
        _, best, med = best_of(9, lambda: r.get_nodes_page("artifact", opts, None))
        out["filter_first_page"] = {"best_ms": best * 1e3, "median_ms": med * 1e3}
        out["filter_50_pages"] = best_listing(2, lambda: page_through(r, opts, max_pages=50))
        # The same first page in every ordering (update times: each artifact's first version is superseded).
        out["filter_first_page_orders"] = {}
        for order, asc in orderings:
            o_opts = ListOptions(limit=PAGE, filter_query=FILTER, order_by=order, is_asc=asc)
            _, _, med = best_of(9, lambda o_opts=o_opts: r.get_nodes_page("artifact", o_opts, None))
            out["filter_first_page_orders"][f"{order.name} {'asc' if asc else 'desc'}"] = med * 1e3
        out["by_id_1_db"] = per_call(lambda i: r.get_artifacts_by_id([i]), ids)
        g, best, med = best_of(3, lambda: r.get_lineage_subgraph(lineage_query(built["start"])))
        out["lineage_up20"] = {"best_ms": best * 1e3, "median_ms": med * 1e3,
                               "nodes": [len(g.artifacts), len(g.executions), len(g.events)]}
    with connected(path) as s:
        for i in ids:
            s.get_artifacts_by_id([i])
        out["by_id_1_cache"] = per_call(lambda i: s.get_artifacts_by_id([i]), ids * 4)
    log(f"scale {built['n']:,}: first page {out['filter_first_page']['median_ms']:.1f} ms, page mean "
        f"{out['filter_50_pages']['page_mean_ms']:.1f} ms, point get {out['by_id_1_db']['p50_ms']:.3f} ms (DB) "
        f"{out['by_id_1_cache']['p50_ms'] * 1e3:.1f} us (cache), lineage {out['lineage_up20']['median_ms']:.0f} ms "
        f"{out['lineage_up20']['nodes']}")
    return out


# -- report -------------------------------------------------------------------------------------------


def ref_figures(ref: dict[str, Any], key: str) -> list[float | None]:
    return [figure(ref, b, key) for b in BACKENDS]


def comparisons(cur: dict[str, Any], ref: dict[str, Any]) -> list[dict[str, Any]]:
    """Each figure of ours beside MLMD's (in-memory, SQLite), with the speed-ups and the target."""
    def row(label: str, ours_ms: float, key: str, target: float | None, target_text: str,
            absolute: Callable[[float], bool] | None = None) -> dict[str, Any]:
        mem, sql = ref_figures(ref, key)
        scale = 1e3 if key.endswith("_s") else 1.0  # MLMD keys ending _s are seconds
        mem_ms = mem * scale if mem is not None else None
        sql_ms = sql * scale if sql is not None else None
        speed = [ratio(ours_ms, mem_ms, lower_is_better=True), ratio(ours_ms, sql_ms, lower_is_better=True)]
        worst = min((s for s in speed if s is not None), default=None)
        met = absolute(ours_ms) if absolute is not None else (
            None if target is None or worst is None else worst >= target)
        return {"read": label, "ours_ms": ours_ms, "mlmd_mem_ms": mem_ms, "mlmd_sqlite_ms": sql_ms,
                "speedup_vs_mem": speed[0], "speedup_vs_sqlite": speed[1], "target": target_text, "met": met}

    f = cur["filter_paged"]
    return [
        row("get_artifacts_by_type (110,100 rows)", cur["get_artifacts_by_type"]["best_ms"],
            "c_get_artifacts_by_type_ms", 5, ">= 5x"),
        row(f"filter day > 500, paged {PAGE} ({f['rows']:,} rows, {f['pages']} pages), total",
            f["total_s"] * 1e3, "c_filter_gt500_ms", 20, ">= 20x"),
        row("get_artifacts_by_context (10k members)", cur["get_artifacts_by_context"]["best_ms"],
            "c_get_artifacts_by_context_ms", None, ""),
        row("get_artifacts_by_id 1 id, p50, warm cache (connect) vs MLMD best", cur["by_id_1_cache"]["p50_ms"],
            "c_get_artifacts_by_id_1_ms", None, "<= 0.1 ms p50", lambda ms: ms <= 0.1),
        row("get_artifacts_by_id 1 id, p50, warm cache (connect) vs MLMD mean", cur["by_id_1_cache"]["p50_ms"],
            "c_get_artifacts_by_id_1_mean_ms", None, "<= 0.1 ms p50", lambda ms: ms <= 0.1),
        row("get_artifacts_by_id 1 id, p50, DB path (open_reader) vs MLMD best", cur["by_id_1_db"]["p50_ms"],
            "c_get_artifacts_by_id_1_ms", None, "<= 0.1 ms p50", lambda ms: ms <= 0.1),
        row("get_artifacts_by_id 100 ids, best of 5, warm cache", cur["by_id_100_cache"]["best_ms"],
            "c_get_artifacts_by_id_100_ms", 1.0 + 1e-9, "faster than MLMD"),
        row("get_artifacts_by_id 100 ids, best of 5, DB path", cur["by_id_100_db"]["best_ms"],
            "c_get_artifacts_by_id_100_ms", 1.0 + 1e-9, "faster than MLMD"),
        row(f"page through all ({cur['paged_all']['rows']:,} rows), {PAGE}/page",
            cur["paged_all"]["total_s"] * 1e3, "e_paged_all_total_s", None, ""),
        row("lineage upstream 20 hops, DAG (open_reader)", cur["lineage_up20"]["best_ms"],
            "d_lineage_dag_last_gen_up20_ms", 4, ">= 4x"),
    ]


def print_report(results: dict[str, Any], ref: dict[str, Any]) -> None:
    if "comparisons" in results:
        print_current(results, ref)
    print_as_of_and_scale(results)


def print_current(results: dict[str, Any], ref: dict[str, Any]) -> None:
    rows = [[c["read"], fmt(c["ours_ms"], 3 if c["ours_ms"] < 10 else 1), fmt(c["mlmd_mem_ms"], 3 if (c["mlmd_mem_ms"] or 0) < 10 else 1),
             fmt(c["mlmd_sqlite_ms"], 3 if (c["mlmd_sqlite_ms"] or 0) < 10 else 1),
             fmt_ratio(c["speedup_vs_mem"]), fmt_ratio(c["speedup_vs_sqlite"]), c["target"],
             {True: "met", False: "NOT met", None: ""}[c["met"]]]
            for c in results["comparisons"]]
    print_table(["read (ms)", "ours", BACKEND_NAMES["fake"], BACKEND_NAMES["sqlite"], "x vs in-mem", "x vs SQLite",
                 "target", ""], rows, title=f"Reads vs MLMD {ref.get('version')} (speed-up > 1x = ours faster; "
                 f"reference {ref.get('source')})")
    cur = results["current"]
    chk = cur["check"]
    print(f"\nsame data set: ours {chk['ours']}  MLMD {chk['mlmd']}")
    f = cur["filter_paged"]
    print(f"filter per page: mean {f['page_mean_ms']:.2f} ms, p50 {f['page_p50_ms']:.2f} ms, max "
          f"{f['page_max_ms']:.2f} ms, first {f['first_page_ms']:.2f} ms (MLMD: "
          f"{fmt((figure(ref, 'sqlite', 'c_filter_gt500_ms') or 0) / max(1, f['pages']), 1)} ms/page)")
    chk = results.get("as_of", {}).get("check_day_of_artifact_0")
    if chk:
        print(f"as_of reads the past: base artifact 0 has day {chk['as_of']} as of the middle, {chk['current']} now "
              "(expected 7 and 21)")


def print_as_of_and_scale(results: dict[str, Any]) -> None:
    a = results.get("as_of")
    if a:
        rows = []
        for label, key, sub in (("filter paged, total (as_of on every page)", "filter_paged", "total_s"),
                                ("filter, first page (median)", "filter_first_page", "median_ms"),
                                ("get_artifacts_by_type (best)", "get_artifacts_by_type", "best_ms"),
                                ("get_artifacts_by_id 1 id, DB path (p50)", "by_id_1_db", "p50_ms")):
            c, o = a["current"][key][sub], a["as_of"][key][sub]
            unit = 1e3 if sub.endswith("_s") else 1
            rows.append([label, fmt(c * unit, 2), fmt(o * unit, 2), f"{o / c:.2f}x",
                         "met" if o / c <= 2 else "NOT met"])
        po = a["as_of"]["filter_paged_as_of_first_page_only"]
        rows.append(["filter paged, total (as_of on the first page only)", fmt(a["current"]["filter_paged"]["total_s"] * 1e3, 2),
                     fmt(po["total_s"] * 1e3, 2), f"{po['total_s'] / a['current']['filter_paged']['total_s']:.2f}x",
                     "met" if po["total_s"] / a["current"]["filter_paged"]["total_s"] <= 2 else "NOT met"])
        print_table(["read (ms)", "current", f"as_of {a['as_of_position']}", "as_of / current", "target <= 2x"], rows,
                    title=f"As-of vs current ({a['version_rows']:,} artifact versions; log position {a['log_position']}; "
                          f"rows current {a['current']['filter_paged']['rows']:,} / as_of "
                          f"{a['as_of']['filter_paged']['rows']:,})")
    sc = results.get("scale")
    if sc:
        pts = sc["points"]
        lo, hi = pts[0], pts[-1]
        rows = []
        for label, get in (
            ("filter first page (median ms)", lambda p: p["filter_first_page"]["median_ms"]),
            ("filter page, mean of first 50 (ms)", lambda p: p["filter_50_pages"]["page_mean_ms"]),
            *((f"filter first page, {name} (median ms)", lambda p, name=name: p["filter_first_page_orders"][name])
              for name in lo.get("filter_first_page_orders", {})),
            ("point get 1 id, DB path, p50 (ms)", lambda p: p["by_id_1_db"]["p50_ms"]),
            ("point get 1 id, warm cache, p50 (ms)", lambda p: p["by_id_1_cache"]["p50_ms"]),
            ("lineage up 20 hops (median ms)", lambda p: p["lineage_up20"]["median_ms"]),
        ):
            vals = [get(p) for p in pts]
            rows.append([label, *(fmt(v, 3) for v in vals), f"{vals[-1] / vals[0]:.2f}x",
                         "met" if vals[-1] / vals[0] < 2 else "NOT met"])
        rows.append(["lineage nodes (artifacts, executions, events)", *(str(p["lineage_up20"]["nodes"]) for p in pts), "", ""])
        rows.append(["artifact versions / events", *(f"{p['artifact_version_rows']:,} / {p['event_rows']:,}" for p in pts), "", ""])
        print_table(["read", *(f"{p['n']:,} artifacts" for p in pts), f"{hi['n'] // lo['n']}x data: slower by", "target < 2x"],
                    rows, title="Scale curve (each artifact updated once; DAG of N/10 executions)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_reference_args(p)
    p.add_argument("--update-rounds", type=int, default=4)
    p.add_argument("--per-round", type=int, default=50_000)
    p.add_argument("--scale", action="store_true", help="also the scale curve (--scale-sizes)")
    p.add_argument("--scale-sizes", default="100000,1000000")
    p.add_argument("--scale-only", action="store_true",
                   help="only the scale curve (results in bench/results/NAME_scale.json; with --profile, the largest "
                        "size's filter page and lineage are profiled into NAME_scale_profile.txt)")
    p.add_argument("--profile", action="store_true", help="profile the read paths that miss their targets")
    p.add_argument("--workdir", type=Path, default=None, help="where the DuckDB files go (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the DuckDB files")
    p.add_argument("--reuse", action="store_true",
                   help="with --workdir: measure the scale files a run with --keep left there instead of building "
                        "them again")
    p.add_argument("--name", default="reads")
    args = p.parse_args()
    mach = machine()
    if args.reference_from is not None:
        data = json.loads(Path(args.reference_from).read_text())
        ref = data.get("reference", data)
        ref["source"] = f"reused from {args.reference_from}"
    else:
        ref = measure_reference(parts="full", n=args.reference_n)
    if ref.get("parts") != "full":
        raise SystemExit("reads need MLMD's whole workload: pass a reference measured with --parts full")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mlmd_reads_"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"benchmark": "reads", "machine": mach, "reference": ref,
                               "settings": {"page": PAGE, "filter": FILTER, "tx_max_ops": TX_MAX_OPS,
                                            "tx_max_bytes": TX_MAX_BYTES}}
    try:
        if args.scale_only:
            results["benchmark"] = "reads_scale"
            results["scale"] = scale_curve(args, workdir)
            return
        path = workdir / "workload.duckdb"
        hist_path = workdir / "workload_history.duckdb"
        built = build_workload_file(path, hist_path, args.update_rounds, args.per_round)
        w: Workload = built["workload"]
        results["build"] = {k: v for k, v in built.items() if k != "workload"}
        cur = measure_current(path, w, ref)
        results["current"] = cur
        results["comparisons"] = comparisons(cur, ref)
        # History: a copy of the file with the update rounds appended; as-of vs current there.
        marks = built["update_marks"]
        as_of = marks[len(marks) // 2]
        results["as_of"] = measure_as_of(hist_path, w, as_of)
        if args.scale:
            results["scale"] = scale_curve(args, workdir, profile=False)
        if args.profile:
            results["profiles"] = profile_misses(results, path, w, hist_path, as_of)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        if results.get("scale") or results.get("current"):
            print_report(results, ref)
            out = write_results(args.name + ("_scale" if args.scale_only else ""), results)
            print(f"\nwrote {out.relative_to(REPO_ROOT)}")


def scale_curve(args: argparse.Namespace, workdir: Path, profile: bool | None = None) -> dict[str, Any]:
    """The scale points; with ``--profile`` (and ``--scale-only``) the largest size's reads are profiled."""
    from mlmd_log import ListOptions

    profile = args.profile if profile is None else profile
    sizes = [int(s) for s in args.scale_sizes.split(",")]
    points, profiles = [], {}
    for n in sizes:
        spath = workdir / f"scale_{n}.duckdb"
        built_path = spath.with_suffix(".json")  # what the build returns (ids, start node), kept beside the file
        if args.reuse and spath.exists() and built_path.exists():
            built_s = json.loads(built_path.read_text())
            log(f"scale {n:,}: reusing {spath}")
        else:
            built_s = build_scale_file(spath, n)
            if args.keep:
                built_path.write_text(json.dumps(built_s))
        points.append(measure_scale_point(spath, built_s))
        if profile and n == sizes[-1]:
            text = RESULTS_DIR / f"{args.name}_scale_profile.txt"
            text.write_text(f"Reads at {n:,} artifacts (each updated once; DAG of {n // 10:,} executions), "
                            "bench/reads.py --scale-only --profile. cProfile does not see inside DuckDB: SQL time is "
                            "measured by wrapping the reader's connection (execute + fetch, wall time).\n\n")
            opts = ListOptions(limit=PAGE, filter_query=FILTER)
            with opened_reader(spath) as r:
                profiles["filter_first_page"] = profile_call(
                    f"filter day > 500, first page of {PAGE}", r, lambda opts=opts: r.get_nodes_page("artifact", opts, None),
                    3, text, "a")
                profiles["filter_5_pages"] = profile_call(
                    f"filter day > 500, first 5 pages of {PAGE}", r,
                    lambda opts=opts: page_through(r, opts, max_pages=5), 1, text, "a")
                profiles["lineage_up20"] = profile_call(
                    "get_lineage_subgraph upstream 20 hops", r,
                    lambda b=built_s: r.get_lineage_subgraph(lineage_query(b["start"])), 3, text, "a")
            log(f"profiles: {text.relative_to(REPO_ROOT)}")
        if not args.keep:
            spath.unlink(missing_ok=True)
            built_path.unlink(missing_ok=True)
    return {"points": points, "profiles": profiles}


def profile_misses(results: dict[str, Any], path: Path, w: Workload, hist_path: Path, as_of: int) -> dict[str, Any]:
    """Profile each read whose target is not met (and lineage, always: it has a target and a query plan)."""
    from mlmd_log import ListOptions

    text = RESULTS_DIR / "reads_profile.txt"
    text.write_text("Profiles of the read paths that miss their targets (bench/reads.py --profile).\n"
                    "cProfile does not see inside DuckDB: SQL time is measured by wrapping the reader's "
                    "connection (execute + fetch, wall time).\n\n")
    out: dict[str, Any] = {}
    missed = {c["read"] for c in results["comparisons"] if c["met"] is False}
    with opened_reader(path) as r:
        if any(m.startswith("get_artifacts_by_type") for m in missed):
            out["get_artifacts_by_type"] = profile_call("get_artifacts_by_type", r,
                                                        lambda: r.get_artifacts_by_type("DataSet"), 2, text, "a")
        if any(m.startswith("filter") for m in missed):
            out["filter_paged"] = profile_call(
                "filter day > 500 paged 100", r,
                lambda: page_through(r, ListOptions(limit=PAGE, filter_query=FILTER)), 1, text, "a")
        if any("DB path" in m and "1 id" in m for m in missed):
            ids = random.Random(3).sample(w.art_ids, 300)
            out["by_id_1_db"] = profile_call("get_artifacts_by_id 1 id, DB path (300 ids)", r,
                                             lambda: [r.get_artifacts_by_id([i]) for i in ids], 1, text, "a")
        if any(m.startswith("get_artifacts_by_id 100") and "DB" in m for m in missed):
            out["by_id_100_db"] = profile_call("get_artifacts_by_id 100 ids, DB path", r,
                                               lambda: r.get_artifacts_by_id(w.ids_sample), 20, text, "a")
        out["lineage_up20"] = profile_call("get_lineage_subgraph upstream 20 hops", r,
                                           lambda: r.get_lineage_subgraph(lineage_query(w.last_gen_outputs[0])),
                                           5, text, "a")
    with connected(path) as s:
        if any("warm cache" in m and "1 id" in m for m in missed):
            warm = random.Random(3).sample(w.art_ids, 1000)
            for i in warm:
                s.get_artifacts_by_id([i])
            out["by_id_1_cache"] = profile_call("get_artifacts_by_id 1 id, warm cache (3 x 1000 ids)", s,
                                                lambda: [s.get_artifacts_by_id([i]) for i in warm * 3], 1, text, "a")
    a = results.get("as_of", {})
    if a and a["as_of"]["filter_paged"]["total_s"] > 2 * a["current"]["filter_paged"]["total_s"]:
        with opened_reader(hist_path) as r:
            out["filter_paged_as_of"] = profile_call(
                "filter paged as_of", r,
                lambda: page_through(r, ListOptions(limit=PAGE, filter_query=FILTER), as_of), 1, text, "a")
    log(f"profiles: {text.relative_to(REPO_ROOT)}")
    return out


if __name__ == "__main__":
    main()
