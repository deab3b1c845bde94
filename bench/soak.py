"""Soak: 4 producer processes write while one process projects and reads, sampled over time.

An **op** here is one ``put_artifacts`` call of ``--batch`` artifacts (default 10), i.e. one
record on the topic. ``--calls`` of them (default 1,000,000 = 10M artifacts) are split evenly over
``--producers`` producer **processes** (default 4), each a write-only
``mlmd_log.connect("kafka://127.0.0.1:PORT/TOPIC")`` that registers the ``SoakItem`` artifact
type itself (idempotent) and calls ``sync()`` at the end.

This process is the projector + reader: ``mlmd_log.connect(kafka_url, db=path)`` runs the
replica projector in a background thread, and the main thread loops over

* a point get: ``get_artifacts_by_id([one random id among the ~1000 newest projected])``
* a filter page: ``get_nodes_page("artifact", ListOptions(limit=20, filter_query="properties.n.int_value > 5"))``

timing each call. Every ``--interval`` seconds (0.5) the same thread samples: ops/s projected
(``log_position()`` delta; type registrations and id-block leases are records too and count),
projector lag (log end from one reused ``KafkaLogReader.end_offset()`` minus the next position to
apply), p99 of the read latencies of the window, this process's RSS (psutil) and, to tell what
grows, DuckDB's own memory count (``duckdb_memory()``), the node cache's entries and the Python
heap's allocated blocks. The pool of
recent ids is refreshed at each sample (``get_nodes_page`` ordered by id descending, not timed).
It stops once every producer has exited and the projector has reached the log end.

Writes ``bench/results/soak.json`` and ``docs/soak.png`` (ops/s, lag, p99 read ms, RSS MB vs time).

Usage::

    python bench/soak.py                 # 1,000,000 calls x 10 artifacts
    python bench/soak.py --calls 50000   # 500k artifacts
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from common import REPO_ROOT, fmt, log, machine, print_table, running_broker, write_results

PNG = REPO_ROOT / "docs" / "soak.png"
FILTER = "properties.n.int_value > 5"


# --- producers (separate processes) ---------------------------------------------------------------------

def soak_type() -> Any:
    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

    t = mlmd.ArtifactType(name="SoakItem")
    t.properties["n"] = mlmd.INT
    t.properties["producer"] = mlmd.STRING
    return t


def producer_main(url: str, index: int, calls: int, batch: int, start_evt: Any, out: Any) -> None:
    """One producer process: register the type, wait for the start signal, put ``calls`` batches, sync."""
    import mlmd_log
    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

    store = mlmd_log.connect(url)
    try:
        type_id = store.put_artifact_type(soak_type())
        store.sync()
        start_evt.wait()
        t0 = time.time()
        name = f"p{index}"
        for c in range(calls):
            arts = []
            for j in range(batch):
                n = c * batch + j
                a = mlmd.Artifact(type_id=type_id, uri=f"/soak/{name}/{n}")
                a.properties["n"].int_value = n % 100
                a.properties["producer"].string_value = name
                arts.append(a)
            store.put_artifacts(arts)
        t_calls = time.time()
        store.sync()
        t1 = time.time()
        out.put({"producer": index, "calls": calls, "start": t0, "calls_s": round(t_calls - t0, 3),
                 "sync_s": round(t1 - t_calls, 3), "end": t1, "error": None})
    except BaseException as err:  # reported to the parent, which fails the run
        out.put({"producer": index, "error": f"{type(err).__name__}: {err}"})
        raise
    finally:
        store.close()


# --- the projector + reader process (this one) ----------------------------------------------------------

def p99(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(0.99 * len(s)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    import mlmd_log
    from mlmd_log import ListOptions, OrderByField
    from mlmd_log.projector.transport import KafkaLogReader
    from mlmd_log.settings import Settings

    ctx = mp.get_context("spawn")
    proc_self = psutil.Process()
    with running_broker() as broker, tempfile.TemporaryDirectory(prefix="mlmd-log-soak-") as tmp:
        topic = f"soak-{uuid.uuid4().hex[:8]}"
        url = broker.url(topic)
        db = str(Path(tmp) / "soak.duckdb")
        store = mlmd_log.connect(url, db=db)  # creates the topic; replica projector thread starts
        end_reader = KafkaLogReader(Settings(), broker.bootstrap.split(","), topic)
        per = [args.calls // args.producers + (1 if i < args.calls % args.producers else 0)
               for i in range(args.producers)]
        start_evt, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=producer_main, args=(url, i, per[i], args.batch, start_evt, out), daemon=True)
                 for i in range(args.producers)]
        for p in procs:
            p.start()
        filt = ListOptions(limit=20, filter_query=FILTER)
        newest = ListOptions(limit=1000, order_by=OrderByField.ID, is_asc=False)
        rng = random.Random(8)
        log(f"soak: {args.producers} producers x {per[0]:,} calls x {args.batch} artifacts -> {url}")

        time.sleep(1.0)  # producers importing and registering their type (not sampled)
        start_evt.set()
        t_start = time.time()
        samples: list[dict[str, Any]] = []
        all_get: list[float] = []
        all_page: list[float] = []
        win_get: list[float] = []
        win_page: list[float] = []
        ids: list[int] = []
        last_pos = store.log_position()
        last_t = t_start
        next_sample = t_start + args.interval
        producers_done_at: float | None = None
        caught_up = False
        reports: list[dict[str, Any]] = []
        reads_failed = 0
        while not caught_up:
            if time.time() - t_start > args.timeout:
                raise SystemExit(f"PROBLEM: not caught up after {args.timeout} s")
            # the reads (timed)
            if ids:
                t0 = time.perf_counter()
                got = store.get_artifacts_by_id([rng.choice(ids)])
                dt = (time.perf_counter() - t0) * 1000
                win_get.append(dt)
                all_get.append(dt)
                if len(got) != 1:
                    reads_failed += 1
            t0 = time.perf_counter()
            store.get_nodes_page("artifact", filt)
            dt = (time.perf_counter() - t0) * 1000
            win_page.append(dt)
            all_page.append(dt)
            now = time.time()
            if now < next_sample:
                continue
            # the sample
            next_sample += args.interval
            pos = store.log_position()
            end = end_reader.end_offset()
            rss = proc_self.memory_info().rss
            duck = store.sql("SELECT coalesce(sum(memory_usage_bytes), 0) AS b FROM duckdb_memory()").column("b")[0]
            cached = len(store.cache._data) if store.cache is not None else 0
            alive = sum(p.is_alive() for p in procs)
            win = win_get + win_page
            samples.append({
                "t_s": round(now - t_start, 3),
                "position": pos, "log_end": end,
                "ops_per_s": round((pos - last_pos) / (now - last_t), 1),
                "lag_ops": max(0, end - (pos + 1)),
                "p99_read_ms": None if not win else round(p99(win), 3),
                "p99_get_by_id_ms": None if not win_get else round(p99(win_get), 3),
                "p99_filter_page_ms": None if not win_page else round(p99(win_page), 3),
                "reads": len(win),
                "rss_mb": round(rss / 2**20, 1),
                "duckdb_mb": round(float(duck.as_py()) / 2**20, 1),
                "node_cache_entries": cached,
                "python_blocks": sys.getallocatedblocks(),
                "producers_alive": alive,
            })
            last_pos, last_t = pos, now
            win_get, win_page = [], []
            page, _ = store.get_nodes_page("artifact", newest)
            ids = [a.id for a in page]
            if alive == 0 and producers_done_at is None:
                producers_done_at = now
                for p in procs:
                    p.join()
                while not out.empty():
                    reports.append(out.get())
                bad = [r for r in reports if r.get("error")] + [
                    {"producer": i, "exitcode": p.exitcode} for i, p in enumerate(procs) if p.exitcode != 0]
                if bad:
                    raise SystemExit(f"PROBLEM: producer failed: {bad}")
                final_end = end_reader.end_offset()
            if producers_done_at is not None and pos + 1 >= final_end:
                caught_up = True
            if len(samples) % 20 == 0:
                s = samples[-1]
                log(f"  t={s['t_s']:.0f}s pos={pos:,} lag={s['lag_ops']:,} ops/s={s['ops_per_s']:,.0f} "
                    f"p99={s['p99_read_ms']} ms rss={s['rss_mb']:,.0f} MB alive={alive}")
        t_end = time.time()

        # checks on the projection
        total_artifacts = store.sql("SELECT count(*) AS n FROM artifacts").column("n")[0].as_py()
        rejections = store.sql("SELECT count(*) AS n FROM rejections").column("n")[0].as_py() \
            if args.check_rejections else None
        end_reader.close()
        store.close()

    duration = t_end - t_start
    rates = [s["ops_per_s"] for s in samples]
    final_pos = samples[-1]["position"]
    produce_end = max(r["end"] for r in reports)
    expected = args.calls * args.batch
    summary = {
        "op": f"one put_artifacts call of {args.batch} artifacts (one record on the topic)",
        "ops": args.calls, "artifacts": expected,
        "records_projected": final_pos + 1,
        "artifacts_in_projection": total_artifacts,
        "rejections": rejections,
        "duration_s": round(duration, 2),
        "producers_done_s": round(produce_end - t_start, 2),
        "catch_up_after_producers_s": round(t_end - produce_end, 2),
        "mean_ops_per_s": round(args.calls / duration, 1),
        "mean_artifacts_per_s": round(expected / duration, 1),
        "peak_ops_per_s_sample": max(rates),
        "max_lag_ops": max(s["lag_ops"] for s in samples),
        "reads": len(all_get) + len(all_page),
        "p99_read_ms": round(p99(all_get + all_page) or 0, 3),
        "p50_read_ms": round(sorted(all_get + all_page)[len(all_get + all_page) // 2], 3),
        "p99_get_by_id_ms": round(p99(all_get) or 0, 3),
        "p99_filter_page_ms": round(p99(all_page) or 0, 3),
        "max_read_ms": round(max(all_get + all_page), 3),
        "point_gets_not_found": reads_failed,
        "rss_min_mb": min(s["rss_mb"] for s in samples),
        "rss_max_mb": max(s["rss_mb"] for s in samples),
        "rss_first_mb": samples[0]["rss_mb"],
        "rss_last_mb": samples[-1]["rss_mb"],
        "duckdb_max_mb": max(s["duckdb_mb"] for s in samples),
    }
    if total_artifacts != expected:
        log(f"PROBLEM: {total_artifacts:,} artifacts projected, expected {expected:,}")
    if rejections:
        log(f"PROBLEM: {rejections} rejections")
    return {
        "settings": {"calls": args.calls, "batch": args.batch, "producers": args.producers,
                     "interval_s": args.interval, "filter_query": FILTER,
                     "db_memory_mb": Settings().db_memory_mb, "cache_entries": Settings().cache_entries,
                     "mlmd_log_env": {k: v for k, v in os.environ.items() if k.startswith("MLMD_LOG_")}},
        "summary": summary, "producers": sorted(reports, key=lambda r: r["producer"]), "samples": samples,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["samples"]
    t = [x["t_s"] for x in s]
    sm = result["summary"]
    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True)
    panels = [
        ("ops_per_s", "ops/s projected\n(1 op = 10 artifacts)", "tab:blue"),
        ("lag_ops", "projector lag (ops)", "tab:orange"),
        ("p99_read_ms", "p99 read latency\n(ms, per 0.5 s)", "tab:red"),
        ("rss_mb", "projector process\nRSS (MB)", "tab:green"),
    ]
    for ax, (key, label, color) in zip(axes, panels, strict=True):
        ax.plot(t, [x[key] if x[key] is not None else float("nan") for x in s], color=color, lw=1.2)
        if key == "rss_mb" and all("duckdb_mb" in x for x in s):
            ax.plot(t, [x["duckdb_mb"] for x in s], color="tab:purple", lw=1.0, ls=":", label="DuckDB's own count")
            ax.legend(loc="upper left", fontsize=8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        if sm.get("producers_done_s") is not None:
            ax.axvline(sm["producers_done_s"], color="grey", ls="--", lw=0.8)
    axes[0].text(sm["producers_done_s"], axes[0].get_ylim()[1] * 0.95, " producers done", color="grey",
                 va="top", fontsize=8)
    axes[-1].set_xlabel("time since producers started (s)")
    st = result["settings"]
    fig.suptitle(
        f"mlmd-log soak: {st['producers']} producer processes, {sm['ops']:,} put_artifacts x {st['batch']} "
        f"({sm['artifacts']:,} artifacts); 1 projector+reader process\n"
        f"mean {sm['mean_ops_per_s']:,.0f} ops/s, max lag {sm['max_lag_ops']:,} ops, "
        f"p99 read {sm['p99_read_ms']:.1f} ms, RSS {sm['rss_min_mb']:,.0f}-{sm['rss_max_mb']:,.0f} MB",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000, help="put_artifacts calls in all (default 1,000,000)")
    ap.add_argument("--batch", type=int, default=10, help="artifacts per call (default 10)")
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--interval", type=float, default=0.5, help="sample period, s")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--name", default="soak", help="results name (bench/results/NAME.json)")
    ap.add_argument("--png", type=Path, default=PNG)
    ap.add_argument("--no-check-rejections", dest="check_rejections", action="store_false")
    args = ap.parse_args()
    info = machine()
    result = {"benchmark": "soak", "machine": info, **run(args)}
    sm = result["summary"]
    path = write_results(args.name, result)
    plot(result, args.png)
    print(f"\nSoak: an op is {sm['op']}")
    print_table(["figure", "value"], [
        ["ops (calls) / artifacts", f"{fmt(sm['ops'])} / {fmt(sm['artifacts'])}"],
        ["records projected (incl. type registrations, id leases)", fmt(sm["records_projected"])],
        ["artifacts in projection / rejections", f"{fmt(sm['artifacts_in_projection'])} / {sm['rejections']}"],
        ["duration (producers done at)", f"{sm['duration_s']:.1f} s ({sm['producers_done_s']:.1f} s)"],
        ["mean ops/s (artifacts/s)", f"{fmt(sm['mean_ops_per_s'])} ({fmt(sm['mean_artifacts_per_s'])})"],
        ["peak ops/s (0.5 s sample)", fmt(sm["peak_ops_per_s_sample"])],
        ["max projector lag (ops)", fmt(sm["max_lag_ops"])],
        ["reads / p50 / p99 / max ms", f"{fmt(sm['reads'])} / {sm['p50_read_ms']:.2f} / {sm['p99_read_ms']:.2f} / "
                                       f"{sm['max_read_ms']:.1f}"],
        ["p99 get_by_id / filter page ms", f"{sm['p99_get_by_id_ms']:.2f} / {sm['p99_filter_page_ms']:.2f}"],
        ["RSS min / max MB", f"{fmt(sm['rss_min_mb'])} / {fmt(sm['rss_max_mb'])}"],
    ])
    print(f"\n-> {path.relative_to(REPO_ROOT)}, {args.png}")


if __name__ == "__main__":
    main()
