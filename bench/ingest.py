"""Ingest end to end (docs/design.md, "Targets"): artifacts/s through each stage, as ratios to MLMD 1.17.1.

The workload is MLMD's part (a): ``--n`` artifacts (default 100k) with 3 properties each,
``put_artifacts`` in batches of 1000, artifacts built inside the timed loop as MLMD's
workload does. Passes, all in one run:

* **reference**: MLMD 1.17.1, in-memory and SQLite file, the same workload (:mod:`mlmd_reference`).
* **embedded**: ``mlmd_log.connect("duckdb:///...")``: each call appended and projected at once.
* **kafka, staged** (each stage timed alone):
  - *produce*: ``mlmd_log.connect("kafka://.../topic")`` (write-only) -> tansu broker started
    here; timed until ``sync()`` confirms delivery of every op.
  - *project*: then a fresh process (:mod:`project_worker`) runs
    ``ProjectorLoop.run(until_caught_up=True)`` into a fresh DuckDB file; timed from the loop's
    start to caught up (start-up reported separately); its RSS is sampled by psutil every 20 ms;
    the engine's phases are timed (wall time, DuckDB included). Repeated ``--project-repeat``
    times over the same topic into fresh files; the median run is reported.
  - *end to end (staged)*: n / (produce + project).
* **kafka, pipelined**: the projector process is started first and follows the topic while
  the producer writes; end to end = first put to last op projected.
* **profile** (``--profile``): the staged topic projected again into a fresh file under
  cProfile; the top functions go to ``bench/results/<name>_profile.txt``.

``--rss-curve`` (implies ``--n 1000000`` unless given) prints the projector's RSS after the first
transaction past every 100k artifacts, and projects a separate 100k-artifact log in the same run
to compare peak RSS for 100k vs n artifacts (target: flat within 20% from 100k to 1M).

Usage::

    python bench/ingest.py                          # 100k, reference measured now
    python bench/ingest.py --profile
    python bench/ingest.py --n 1000000 --rss-curve  # 1M and the RSS curve -> bench/results/ingest_1000000.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psutil
from common import (
    ARTIFACTS_PER_BATCH,
    BENCH_DIR,
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
    running_broker,
    write_profile_text,
    write_results,
)
from mlmd_reference import BACKEND_NAMES, BACKENDS, add_reference_args, figure, reference_from_args

import mlmd_log

WORKER = BENCH_DIR / "project_worker.py"
REF_KEY = "a_put_artifacts_batch1000_per_s"
TARGET_VS_SQLITE = 10.0
RSS_FLAT_TARGET = 1.2
DESIGN_SQLITE = 12_300.0
"""MLMD's usual SQLite rate on this class of machine: shown beside the same-run ratios, in case MLMD ran slow."""


# --- producing ------------------------------------------------------------------------------------------

def put_all(store: Any, n: int, type_id: int) -> None:
    """MLMD's part (a) loop: build each batch of 1000 and put it."""
    for start in range(0, n, ARTIFACTS_PER_BATCH):
        store.put_artifacts([make_artifact(type_id, i) for i in range(start, min(start + ARTIFACTS_PER_BATCH, n))])


def produce(url: str, n: int, before_puts: Callable[[], None] | None = None) -> dict[str, Any]:
    """Put ``n`` artifacts through a write-only Kafka store; time until ``sync()`` confirms delivery."""
    store = mlmd_log.connect(url)
    try:
        type_id = store.put_artifact_type(artifact_type())
        store.sync()
        if before_puts is not None:
            before_puts()
        t0 = time.time()
        put_all(store, n, type_id)
        t_calls = time.time()
        store.sync()
        t1 = time.time()
    finally:
        store.close()
    return {
        "start_time": t0, "end_time": t1,
        "calls_s": round(t_calls - t0, 3), "sync_s": round(t1 - t_calls, 3), "produce_s": round(t1 - t0, 3),
        "artifacts_per_s": n / (t1 - t0),
    }


def embedded(n: int, workdir: Path) -> dict[str, Any]:
    """Put ``n`` artifacts into an embedded store (log + projection in one DuckDB file, applied per call)."""
    path = workdir / "embedded.duckdb"
    store = mlmd_log.connect(f"duckdb:///{path}")
    try:
        type_id = store.put_artifact_type(artifact_type())
        t0 = time.perf_counter()
        put_all(store, n, type_id)
        dt = time.perf_counter() - t0
    finally:
        store.close()
    with duckdb.connect(str(path)) as con:
        row = con.execute("SELECT count(*) FROM artifacts").fetchone()
    counted = int(row[0]) if row else None
    return {"put_s": round(dt, 3), "artifacts_per_s": n / dt, "artifacts_in_db": counted,
            "file_mb": round(path.stat().st_size / 2**20, 1)}


# --- the projector process ------------------------------------------------------------------------------

class RssSampler:
    """Samples a process's RSS every ``interval_s`` in a thread; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.peak = 0
        self._proc = psutil.Process(pid)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(self._interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def start_worker(bootstrap: str, topic: str, db: Path, mode: str, profile: Path | None = None) -> subprocess.Popen[str]:
    """Start :mod:`project_worker` on ``topic`` into the fresh file ``db``."""
    cmd = [sys.executable, str(WORKER), "--bootstrap", bootstrap, "--topic", topic, "--db", str(db),
           "--mode", mode, "--artifacts-per-op", str(ARTIFACTS_PER_BATCH)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)


def finish_worker(proc: subprocess.Popen[str], sampler: RssSampler, timeout_s: float) -> dict[str, Any]:
    """Wait for the worker's JSON line; add the sampled peak RSS and the file size."""
    out, _ = proc.communicate(timeout=timeout_s)
    peak = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"the projector process failed (exit {proc.returncode}); its stderr is above")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(peak / 2**20, 1)
    return result


def project_caught_up(bootstrap: str, topic: str, db: Path, n: int, profile: Path | None = None) -> dict[str, Any]:
    """The project stage alone: a fresh process projects the complete topic (``run(until_caught_up=True)``)."""
    t0 = time.time()
    proc = start_worker(bootstrap, topic, db, "caught-up", profile)
    sampler = RssSampler(proc.pid)
    result = finish_worker(proc, sampler, timeout_s=max(600.0, n / 500))
    result["process_wall_s"] = round(time.time() - t0, 3)
    result["artifacts_per_s"] = n / result["project_s"]
    result["file_mb"] = round(db.stat().st_size / 2**20, 1)
    return result


def pipelined(broker_url: str, bootstrap: str, topic: str, db: Path, n: int) -> dict[str, Any]:
    """Producer and projector at once: the projector follows the topic while the producer writes."""
    holder: dict[str, Any] = {}

    def start() -> None:
        proc = start_worker(bootstrap, topic, db, "follow")
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the projector process did not start (said {line!r})")
        holder["proc"], holder["sampler"] = proc, RssSampler(proc.pid)

    produced = produce(broker_url, n, before_puts=start)
    proc, sampler = holder["proc"], holder["sampler"]
    assert proc.stdin is not None
    proc.stdin.write("done\n")
    proc.stdin.flush()
    projected = finish_worker(proc, sampler, timeout_s=max(600.0, n / 500))
    e2e_s = projected["project_end_time"] - produced["start_time"]
    return {
        "produce": produced, "project": projected, "e2e_s": round(e2e_s, 3),
        "lag_after_sync_s": round(projected["project_end_time"] - produced["end_time"], 3),
        "artifacts_per_s": n / e2e_s,
    }


# --- profile ----------------------------------------------------------------------------------------------

def write_profile(stats_file: Path, name: str, n: int, project_s: float) -> dict[str, Any]:
    """Text report of the profiled projection (top 40 by cumulative and by own time) next to the JSON."""
    cumulative = profile_rows(stats_file, "cumulative", 40)
    own = profile_rows(stats_file, "tottime", 40)
    path = RESULTS_DIR / f"{name}_profile.txt"
    write_profile_text(path, f"cProfile of the projector process: {n:,} artifacts (staged topic, fresh DuckDB "
                       f"file), projection {project_s:.2f} s under the profiler", cumulative, own)
    return {"file": str(path.relative_to(REPO_ROOT)), "project_s_profiled": project_s,
            "top_cumulative": cumulative[:15], "top_tottime": own[:15]}


# --- report -----------------------------------------------------------------------------------------------

def report(results: dict[str, Any], ref: dict[str, Any], n: int) -> None:
    """Print the figures with their ratios to MLMD (SQLite file: the target's baseline; in-memory beside it)."""
    refs = {b: figure(ref, b, REF_KEY) for b in BACKENDS}
    rows = [[f"{BACKEND_NAMES[b]} put_artifacts (reference)", fmt(refs[b]), "", fmt_ratio(1.0 if b == "sqlite" else
             ratio(refs[b], refs["sqlite"])), fmt_ratio(1.0 if b == "fake" else ratio(refs[b], refs["fake"])),
             fmt_ratio(ratio(refs[b], DESIGN_SQLITE))]
            for b in BACKENDS]
    staged, pipe = results.get("staged"), results.get("pipelined")

    def add(label: str, rate: float | None, seconds: float | None) -> None:
        rows.append([label, fmt(rate), fmt(seconds, 2), fmt_ratio(ratio(rate, refs["sqlite"])),
                     fmt_ratio(ratio(rate, refs["fake"])), fmt_ratio(ratio(rate, DESIGN_SQLITE))])

    if "embedded" in results:
        add("embedded duckdb:// put_artifacts", results["embedded"]["artifacts_per_s"], results["embedded"]["put_s"])
    if staged:
        add("kafka produce (until sync)", staged["produce"]["artifacts_per_s"], staged["produce"]["produce_s"])
        add("kafka project (run until caught up)", staged["project"]["artifacts_per_s"], staged["project"]["project_s"])
        add("kafka end to end, staged (produce + project)", staged["artifacts_per_s"], staged["e2e_s"])
    if pipe:
        add("kafka end to end, pipelined (concurrent)", pipe["artifacts_per_s"], pipe["e2e_s"])
    print_table([f"ingest of {n:,} artifacts x 3 properties, batches of 1000", "artifacts/s", "seconds",
                 "vs MLMD SQLite", "vs MLMD in-mem", "vs 12.3k/s (§6)"], rows,
                title=f"Ingest (target: end to end >= {TARGET_VS_SQLITE:g}x MLMD SQLite file)")
    mem_rows = []
    for label, part in (("staged project", staged and staged["project"]), ("pipelined", pipe and pipe["project"])):
        if part:
            mem_rows.append([label, fmt(part["rss_ready_mb"], 1), fmt(part["peak_rss_self_mb"], 1),
                             fmt(part["peak_rss_mb"], 1),
                             fmt(part["rss_done_mb"], 1), fmt(part["startup_s"], 2), fmt(part.get("file_mb"), 1),
                             fmt(part["batches"])])
    if mem_rows:
        print_table(["projector process", "RSS ready MB", "peak RSS projecting MB", "peak RSS incl. checks MB",
                     "RSS done MB", "start-up s", "db MB",
                     "transactions"], mem_rows)
    phases = staged and staged["project"].get("phases")
    if phases:
        print_table(["phase of the staged projection (wall time, nested phases indented)", "seconds", "% of run",
                     "calls"],
                    [[name, fmt(v["s"], 3), fmt(v["pct"], 1), fmt(v.get("calls"))]
                     for name, v in phases.items() if name != "missing"],
                    title="Where the projector's time goes (timed wrappers, includes DuckDB/Arrow native time)")
        if phases.get("missing"):
            print(f"phases not found (renamed?): {', '.join(phases['missing'])}")
    curve = results.get("rss_curve")
    if curve:
        print_table(["mark", "artifacts projected", "ops in transaction", "elapsed s", "RSS MB", "peak RSS so far MB"],
                    [[fmt(c["mark"]), fmt(c["artifacts"]), fmt(c["ops"]), fmt(c["elapsed_s"], 2), fmt(c["rss_mb"], 1),
                      fmt(c["peak_rss_mb"], 1)] for c in curve],
                    title="Projector RSS after the first transaction past every 100k artifacts (staged run)")
    flat = results.get("rss_flatness")
    if flat:
        print(f"\nProjector peak RSS while projecting: {fmt(flat['peak_rss_mb_100k'], 1)} MB for a 100k-artifact log, "
              f"{fmt(flat['peak_rss_mb_n'], 1)} MB for {flat['n']:,}: {flat['ratio']:.2f}x "
              f"(target <= {RSS_FLAT_TARGET}x)")
    prof = results.get("profile")
    if prof:
        print_table(["cumtime s", "cum %", "tottime s", "calls", "function"],
                    [[fmt(r["cumtime_s"], 3), fmt(r["cum_pct"], 1), fmt(r["tottime_s"], 3), str(r["calls"]),
                      r["function"]] for r in prof["top_cumulative"]],
                    title=f"Projection profile, top 15 by cumulative time (full list: {prof['file']})")


def main() -> None:
    """Run the passes, print the tables, write ``bench/results/<name>.json``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None, help="artifacts to ingest (default 100000; 1000000 with --rss-curve)")
    p.add_argument("--rss-curve", action="store_true", help="report projector RSS at every 100k artifacts")
    p.add_argument("--profile", action="store_true", help="also profile a projection of the staged topic (cProfile)")
    p.add_argument("--project-repeat", type=int, default=None,
                   help="projections of the staged topic, each into a fresh file; the median is reported "
                        "(default 3 up to 200k artifacts, else 1)")
    p.add_argument("--skip", default="", help="comma-separated passes to skip: embedded, pipelined")
    p.add_argument("--name", default=None, help="results name (default ingest, or ingest_<n> when n != 100k)")
    add_reference_args(p)
    args = p.parse_args()
    n = args.n if args.n is not None else (1_000_000 if args.rss_curve else 100_000)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    name = args.name or ("ingest" if n == 100_000 else f"ingest_{n}")
    info = machine()
    ref = reference_from_args(args)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlmd-bench-ingest-") as tmp:
        workdir = Path(tmp)
        if "embedded" not in skip:
            log(f"embedded: {n:,} artifacts ...")
            results["embedded"] = embedded(n, workdir)
        with running_broker() as broker:
            topic = f"bench-ingest-{uuid.uuid4().hex[:8]}"
            log(f"kafka staged: producing {n:,} artifacts to {broker.bootstrap}/{topic} ...")
            produced = produce(broker.url(topic), n)
            log(f"  produced in {produced['produce_s']:.2f} s; projecting in a fresh process ...")
            repeat = args.project_repeat if args.project_repeat is not None else (3 if n <= 200_000 else 1)
            runs = []
            for r in range(repeat):
                runs.append(project_caught_up(broker.bootstrap, topic, workdir / f"staged{r}.duckdb", n))
                log(f"  projection {r + 1}/{repeat}: {runs[-1]['project_s']:.2f} s")
            projected = sorted(runs, key=lambda x: x["project_s"])[len(runs) // 2]  # the median run
            projected["all_project_s"] = [x["project_s"] for x in runs]
            e2e_s = produced["produce_s"] + projected["project_s"]
            results["staged"] = {"produce": produced, "project": projected, "e2e_s": round(e2e_s, 3),
                                 "artifacts_per_s": n / e2e_s}
            results["rss_curve"] = projected["curve"]
            if "pipelined" not in skip:
                log("kafka pipelined: projector following the producer ...")
                ptopic = f"bench-ingest-pipe-{uuid.uuid4().hex[:8]}"
                results["pipelined"] = pipelined(broker.url(ptopic), broker.bootstrap, ptopic,
                                                 workdir / "pipelined.duckdb", n)
            if args.rss_curve:
                if n == 100_000:
                    base = projected
                else:
                    log("RSS baseline: producing and projecting 100,000 artifacts ...")
                    btopic = f"bench-ingest-base-{uuid.uuid4().hex[:8]}"
                    produce(broker.url(btopic), 100_000)
                    base = project_caught_up(broker.bootstrap, btopic, workdir / "base.duckdb", 100_000)
                # The projector's peak while projecting (sampled in the worker every 20 ms and after every
                # transaction), not the process's whole life: after projecting, the worker's own checks
                # (counts, the archive's byte total) read the file through DuckDB's cache.
                results["rss_flatness"] = {
                    "n": n, "measured": "peak RSS while projecting",
                    "peak_rss_mb_100k": base["peak_rss_self_mb"], "peak_rss_mb_n": projected["peak_rss_self_mb"],
                    "ratio": projected["peak_rss_self_mb"] / base["peak_rss_self_mb"],
                    "process_peak_rss_mb_100k": base["peak_rss_mb"], "process_peak_rss_mb_n": projected["peak_rss_mb"],
                }
            if args.profile:
                log("profiling a projection of the staged topic ...")
                stats_file = workdir / "project.pstats"
                prof = project_caught_up(broker.bootstrap, topic, workdir / "profiled.duckdb", n, stats_file)
                results["profile"] = write_profile(stats_file, name, n, prof["project_s"])
    problems = []
    for label, part in (("staged", results["staged"]["project"]), ("pipelined", results.get("pipelined", {}).get("project"))):
        if part and (part["check"]["artifacts"] != n or part["check"]["rejections"]):
            problems.append(f"{label}: {part['check']['artifacts']} artifacts projected (expected {n}), "
                            f"{part['check']['rejections']} rejections")
    if results.get("embedded", {}).get("artifacts_in_db") not in (None, n):
        problems.append(f"embedded: {results['embedded']['artifacts_in_db']} artifacts in the file, expected {n}")
    flat = results.get("rss_flatness", {}).get("ratio")
    refs = {b: figure(ref, b, REF_KEY) for b in BACKENDS}
    ratios = {
        stage: {b: ratio(rate, refs[b]) for b in BACKENDS}
        for stage, rate in (
            ("embedded", results.get("embedded", {}).get("artifacts_per_s")),
            ("produce", results["staged"]["produce"]["artifacts_per_s"]),
            ("project", results["staged"]["project"]["artifacts_per_s"]),
            ("e2e_staged", results["staged"]["artifacts_per_s"]),
            ("e2e_pipelined", results.get("pipelined", {}).get("artifacts_per_s")),
        )
    }
    report(results, ref, n)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    path = write_results(name, {
        "benchmark": "ingest", "n": n, "machine": info, "reference": ref, "results": results,
        "ratios_vs_mlmd": ratios, "rss_peak_n_over_100k": flat, "problems": problems,
        "targets": {"e2e_vs_sqlite": TARGET_VS_SQLITE, "rss_flat": RSS_FLAT_TARGET},
    })
    print(f"\nwrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
