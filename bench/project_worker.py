"""The projector under benchmark, in its own process so its RSS can be sampled (psutil, by the parent).

Started by :mod:`ingest`; not meant to be run by hand. It projects a Kafka topic into a
fresh DuckDB file with the library's own parts: ``KafkaLogReader`` + ``ProjectorLoop``.

* ``--mode caught-up``: ``ProjectorLoop.run(until_caught_up=True)`` over a topic that is
  already complete (the "project" stage measured alone).
* ``--mode follow``: started before the producer; prints ``ready``, then steps the loop
  while the producer writes; when the parent writes a line to stdin (the producer's
  ``sync()`` returned) it reads the log's end and stops once projected past it
  (the pipelined end-to-end measurement).

It samples its own RSS after every transaction (the RSS curve, marks every ``--sample-every``
artifacts) and every 20 ms (the peak), can profile the
projection with cProfile (``--profile FILE``: imports and start-up excluded), times the
engine's phases otherwise (:class:`PhaseTimer`: wall time including native DuckDB/Arrow work), checks the
result (artifact count, rejections), and prints one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import threading
import time
from typing import Any

import psutil

from mlmd_log.projector import catalog
from mlmd_log.projector.engine import BatchReport
from mlmd_log.projector.loop import ProjectorLoop
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.settings import Settings
from mlmd_log.store import open_duckdb


class PhaseTimer:
    """Wall time spent in named library functions, by wrapping them in this process only.

    Low overhead (a few hundred calls per run), and unlike cProfile it sees time spent inside
    DuckDB and pyarrow (native code cProfile does not attribute). Best effort: a function that
    a refactor renamed is reported under ``missing`` instead of failing the benchmark.
    """

    #: phase name -> (module or class, attribute). The loop is pipelined (projector/pipeline.py): the
    #: caller's thread prepares batch N+1 while a writer thread stores batch N, so "store" overlaps the rest.
    TARGETS: tuple[tuple[str, str, str], ...] = (
        ("poll", "mlmd_log.projector.transport:KafkaLogReader", "poll_batch"),
        ("prepare (Python: decide outcomes, build rows)", "mlmd_log.projector.engine:Projector", "prepare"),
        ("  decode", "mlmd_log.projector.engine", "decode"),
        ("  duplicate check (op-id filter + archive)", "mlmd_log.projector.engine:Projector", "_repeated_op_ids"),
        ("  prefetch", "mlmd_log.projector.engine", "prefetch"),
        ("  apply ops (Python, per op)", "mlmd_log.projector.engine", "apply_in_tx"),
        ("  plan rows (Arrow tables)", "mlmd_log.projector.engine", "plan_output"),
        ("wait for the writer thread", "mlmd_log.projector.pipeline:Pipeline", "_reap"),
        ("store (writer thread, overlapping: INSERTs + COMMIT)", "mlmd_log.projector.pipeline:Pipeline", "_store"),
    )

    def __init__(self) -> None:
        import importlib

        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.missing: list[str] = []
        for phase, where, attr in self.TARGETS:
            module_name, _, cls_name = where.partition(":")
            try:
                owner: Any = importlib.import_module(module_name)
                if cls_name:
                    owner = getattr(owner, cls_name)
                original = getattr(owner, attr)
            except (ImportError, AttributeError):
                self.missing.append(f"{where}.{attr}")
                continue
            setattr(owner, attr, self._wrap(phase, original))

    def _wrap(self, phase: str, fn: Any) -> Any:
        import functools

        self.seconds[phase] = 0.0
        self.calls[phase] = 0
        clock = time.perf_counter

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[phase] += clock() - t0
                self.calls[phase] += 1

        return timed

    def report(self, total_s: float) -> dict[str, Any]:
        """Seconds and share of the projection per phase, plus derived BEGIN/COMMIT and remainder."""
        out: dict[str, Any] = {
            name: {"s": round(sec, 3), "pct": round(100 * sec / total_s, 1), "calls": self.calls[name]}
            for name, sec in self.seconds.items()
        }
        prepare = self.seconds.get("prepare (Python: decide outcomes, build rows)")
        if prepare is not None:
            inner = sum(sec for name, sec in self.seconds.items() if name.startswith("  "))
            out["  rest of prepare (outcomes, archive rows, report)"] = {
                "s": round(prepare - inner, 3), "pct": round(100 * (prepare - inner) / total_s, 1)}
        if self.missing:
            out["missing"] = self.missing
        return out


class Progress:
    """Counts projected ops and artifacts per transaction, with the RSS at that moment and the peak so far.

    Fed per transaction through ``ProjectorLoop.listeners`` where the loop has them (a poll may
    be split into several transactions), else per poll through ``run(on_batch=...)``. A thread
    samples RSS every 20 ms for the peak between callbacks.
    """

    def __init__(self, artifacts_per_op: int, every: int) -> None:
        self.artifacts_per_op = artifacts_per_op
        self.every = every
        self.ops = 0
        self.artifacts = 0
        self.rejected = 0
        self.batches = 0
        self.rows = 0
        self.started = time.perf_counter()
        self.first_batch_at: float | None = None
        self.transactions: list[dict[str, float]] = []
        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop(self) -> None:
        self._stop.set()
        self._sampler.join()

    def on_batch(self, report: BatchReport | None) -> None:
        """One committed transaction (or poll; None when the poll brought nothing): count it and sample RSS."""
        if report is None:
            return
        if self.first_batch_at is None:
            self.first_batch_at = time.perf_counter()
        self.batches += 1
        self.rows += report.rows
        for outcome in report.outcomes:
            self.ops += 1
            if outcome.error is not None:
                self.rejected += 1
            elif outcome.payload == "put_artifacts" and not outcome.duplicate:
                self.artifacts += self.artifacts_per_op
        rss = self._proc.memory_info().rss
        self.peak = max(self.peak, rss)
        self.transactions.append({
            "artifacts": self.artifacts, "ops": len(report.outcomes),
            "elapsed_s": round(time.perf_counter() - self.started, 3),
            "rss_mb": round(rss / 2**20, 1), "peak_rss_mb": round(self.peak / 2**20, 1),
        })

    def curve(self) -> list[dict[str, float]]:
        """The first transaction at or past every ``every`` artifacts (transactions may span several marks)."""
        out: list[dict[str, float]] = []
        mark = self.every
        for t in self.transactions:
            if t["artifacts"] >= mark:
                out.append({"mark": mark, **t})
                while t["artifacts"] >= mark:
                    mark += self.every
        return out


def _stdin_signal() -> threading.Event:
    """Set when the parent writes a line (or closes stdin): the producer has finished."""
    done = threading.Event()

    def wait() -> None:
        sys.stdin.readline()
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    return done


def follow(loop: ProjectorLoop, source: KafkaLogReader, progress: Progress, per_transaction: bool) -> None:
    """Run the loop (pipelined, as ``mlmd-log project`` runs it) until the parent says the producer is done and
    the log's end then is projected."""
    producer_done = _stdin_signal()
    target: list[int] = []

    def on_batch(report: Any) -> None:
        if report is not None and not per_transaction:
            progress.on_batch(report)
        if not target and producer_done.is_set():
            target.append(source.end_offset() - 1)
        if target and loop.position >= target[0]:
            loop.request_stop()

    loop.run(on_batch=on_batch)


def main() -> None:
    """Project, measure, verify, print one JSON line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--mode", choices=("caught-up", "follow"), default="caught-up")
    p.add_argument("--artifacts-per-op", type=int, default=1000)
    p.add_argument("--sample-every", type=int, default=100_000)
    p.add_argument("--profile", default=None, help="write cProfile stats of the projection to this file")
    args = p.parse_args()

    t_start = time.time()
    phases = None if args.profile else PhaseTimer()  # wrappers would clutter the profile
    settings = Settings()
    # As `mlmd-log project` opens it: DuckDB's memory cap, the projector's row groups (ADR 0003);
    # MLMD_LOG_BENCH_ROW_GROUP_SIZE=0 opens it with DuckDB's default row groups instead, for A/B runs.
    row_group_size = int(os.environ.get("MLMD_LOG_BENCH_ROW_GROUP_SIZE", str(catalog.ROW_GROUP_SIZE))) or None
    con = open_duckdb(args.db, settings, row_group_size=row_group_size)
    source = KafkaLogReader(settings, [args.bootstrap], args.topic)
    # As `mlmd-log project` runs it: DuckDB's cache kept to projector_cache_mb between transactions (0 turns
    # that off, for A/B runs). MLMD_LOG_BENCH_VACUUM_TASKS=100 restores DuckDB's vacuum (catalog.py), for A/B.
    vacuum = os.environ.get("MLMD_LOG_BENCH_VACUUM_TASKS")
    if vacuum is not None:
        con.execute("SET max_vacuum_tasks = ?", [int(vacuum)])
    loop = ProjectorLoop(catalog.cursor(con), source, settings, cache_mb=settings.projector_cache_mb)
    progress = Progress(args.artifacts_per_op, args.sample_every)
    rss_ready = psutil.Process().memory_info().rss
    profiler = cProfile.Profile() if args.profile else None
    if args.mode == "follow":
        print("ready", flush=True)
    t0 = time.time()
    cpu0 = os.times()
    progress.started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    listeners = getattr(loop, "listeners", None)
    per_transaction = isinstance(listeners, list)
    if isinstance(listeners, list):
        listeners.append(progress.on_batch)
    if args.mode == "follow":
        follow(loop, source, progress, per_transaction)
    else:
        loop.run(until_caught_up=True, on_batch=None if per_transaction else progress.on_batch)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    t1 = time.time()
    cpu1 = os.times()
    progress.stop()
    rss_done = psutil.Process().memory_info().rss
    first_batch_s = None if progress.first_batch_at is None else progress.first_batch_at - progress.started

    check = catalog.cursor(con)
    artifacts = check.execute("SELECT count(*) FROM artifacts").fetchone()
    properties = check.execute("SELECT count(*) FROM artifact_properties").fetchone()
    rejections = check.execute("SELECT count(*) FROM rejections").fetchone()
    archive = check.execute("SELECT count(*), sum(octet_length(bytes)) FROM op_archive").fetchone()
    source.close()
    con.close()
    out: dict[str, Any] = {
        "mode": args.mode,
        "startup_s": round(t0 - t_start, 3),
        "project_start_time": t0,
        "project_end_time": t1,
        "project_s": round(t1 - t0, 3),
        # CPU of the whole projector process while projecting (both threads, DuckDB's own threads included).
        "cpu_s": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 3),
        "first_batch_s": None if first_batch_s is None else round(first_batch_s, 3),
        "ops": progress.ops,
        "batches": progress.batches,
        "rows": progress.rows,
        "artifacts_counted": progress.artifacts,
        "rejected": progress.rejected,
        "rss_ready_mb": round(rss_ready / 2**20, 1),
        "rss_done_mb": round(rss_done / 2**20, 1),
        "transactions_seen": "per transaction" if per_transaction else "per poll",
        "peak_rss_self_mb": round(progress.peak / 2**20, 1),
        "curve": progress.curve(),
        "transactions": progress.transactions if len(progress.transactions) <= 200 else None,
        "phases": phases.report(t1 - t0) if phases is not None else None,
        "check": {
            "artifacts": artifacts[0] if artifacts else None,
            "artifact_properties": properties[0] if properties else None,
            "rejections": rejections[0] if rejections else None,
            "archived_ops": archive[0] if archive else None,
            "log_bytes": int(archive[1]) if archive and archive[1] is not None else None,
        },
        "settings": {k: getattr(settings, k) for k in (
            "batch_max_ops", "batch_max_bytes", "batch_max_ms", "poll_timeout_ms", "db_memory_mb", "projector_cache_mb"
        )},
        "max_vacuum_tasks": catalog.MAX_VACUUM_TASKS if vacuum is None else int(vacuum),
        "cache_trims": loop.cache_trims,
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
