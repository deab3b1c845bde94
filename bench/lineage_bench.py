"""Lineage (docs/design.md, "Targets"): 20-hop upstream ``get_lineage_subgraph`` on the workload's DAG vs MLMD.

The data is MLMD's reference workload's (bench/README.md): 100k base artifacts
(3 properties, put_artifacts of 1000), then the fan-out DAG: 10 generations of 1,000 executions,
each consuming 2 artifacts of the previous generation (drawn with ``random.Random(42)`` exactly as
the workload draws them; generation 0 consumes base artifacts) and producing 1. Written through
``mlmd_log.connect("duckdb:///...")`` (embedded: every call appended and projected before it
returns) with the workload's own calls per generation: ``put_executions`` (1,000),
``put_artifacts`` (1,000 outputs), ``put_events`` (3,000). The DAG's write time is reported beside
MLMD's [b_dag_total_s]. The same calls are also written through our Producer into a collecting
log and projected in transactions of at most 2,000 ops / 4 MiB, the file a Kafka
deployment's projector builds; its projection time is reported too.

Then ``get_lineage_subgraph`` upstream 20 hops from the first output of the last generation (the
workload's start) [d_lineage_dag_last_gen_up20_ms: MLMD best of 3], through the embedded store
and through ``open_reader``; best of 3 and median of 10. Also 6 hops and the events-only field
mask [d_lineage_dag_last_gen_up6_ms, d_lineage_dag_up20_events_only_ms]. The node counts
(artifacts, executions, events) returned by both are printed side by side: the same subgraph.
Target: >= 4x faster than MLMD.

``--profile``: the 20-hop query under cProfile with the SQL time per statement, and one embedded
``put_events`` of 1,000 events (where the DAG's write time goes), in ``bench/results/lineage_profile.txt``.

Usage::

    python bench/lineage_bench.py --reference-from bench/results/reads.json --profile
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO_ROOT, RESULTS_DIR, fmt, fmt_ratio, log, machine, print_table, ratio, write_results
from mlmd_reference import BACKEND_NAMES, BACKENDS, add_reference_args, figure, measure_reference
from reads import (
    CollectingLog,
    best_of,
    connected,
    lineage_query,
    opened_reader,
    producer_over,
    profile_call,
    project,
    workload_writes,
)


def run_query(store: Any, start: int, hops: int, mask: list[str] | None = None) -> dict[str, Any]:
    """Best of 3 and median of 10; ``first_ms`` is the first call (cold caches, when it is the reader's first)."""
    t = time.perf_counter()
    store.get_lineage_subgraph(lineage_query(start, hops), mask)
    first = time.perf_counter() - t
    g, best, _ = best_of(3, lambda: store.get_lineage_subgraph(lineage_query(start, hops), mask))
    _, _, med = best_of(10, lambda: store.get_lineage_subgraph(lineage_query(start, hops), mask))
    return {"best_ms": best * 1e3, "median_ms": med * 1e3, "first_ms": first * 1e3,
            "nodes": [len(g.artifacts), len(g.executions), len(g.events)]}


def profile_embedded_events(path: Path, w: Any) -> dict[str, Any]:
    """cProfile one embedded ``put_events`` of 1,000 events (after the queries: 1,000 new executions consuming
    base artifacts, which no upstream query from the DAG reaches) -- where the DAG's write time goes."""
    import cProfile

    from common import profile_rows, write_profile_text

    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as pb

    with connected(path) as store:
        et_id = store.get_execution_type("Step").id
        e_ids = store.put_executions([pb.Execution(type_id=et_id) for _ in range(1000)])
        events = [pb.Event(artifact_id=w.art_ids[50_000 + k], execution_id=e, type=pb.Event.INPUT)
                  for k, e in enumerate(e_ids)]
        stats = Path(tempfile.mkstemp(suffix=".prof")[1])
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        store.put_events(events)
        prof.disable()
        seconds = time.perf_counter() - t
    prof.dump_stats(str(stats))
    cum, own = profile_rows(stats, "cumulative", 25), profile_rows(stats, "tottime", 10)
    stats.unlink()
    write_profile_text(RESULTS_DIR / "lineage_profile.txt",
                       f"### embedded put_events of 1,000 events (executions written by an earlier call): "
                       f"{seconds:.2f} s under the profiler", cum, own, mode="a")
    log(f"embedded put_events x1000 profiled: {seconds:.2f} s")
    return {"seconds": round(seconds, 3), "top_cumulative": cum[:15]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_reference_args(p)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--name", default="lineage")
    args = p.parse_args()
    mach = machine()
    if args.reference_from is not None:
        data = json.loads(Path(args.reference_from).read_text())
        ref = data.get("reference", data)
        ref["source"] = f"reused from {args.reference_from}"
    else:
        ref = measure_reference(parts="full", n=args.reference_n)
    if ref.get("parts") != "full":
        raise SystemExit("lineage needs MLMD's whole workload: pass a reference measured with --parts full")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mlmd_lineage_"))
    workdir.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"benchmark": "lineage", "machine": mach, "reference": ref}
    try:
        emb = workdir / "embedded.duckdb"
        timings: dict[str, float] = {}
        with connected(emb) as store:
            w = workload_writes(store, with_context=False, with_chains=False, timings=timings)
            res["write_embedded"] = {"base_artifacts_s": round(timings["a_put_artifacts_s"], 2),
                                     "dag_s": round(timings["dag_s"], 2), "dag_executions": w.dag_executions,
                                     "dag_events": w.dag_events}
            log(f"embedded: 100k artifacts in {timings['a_put_artifacts_s']:.1f} s; DAG "
                f"({w.dag_executions:,} executions, {w.dag_events:,} events) in {timings['dag_s']:.1f} s")
            start = w.last_gen_outputs[0]
            res["start_artifact_id"] = start
            q = {"up20_embedded": run_query(store, start, 20)}
        oplog = CollectingLog()
        ptimes: dict[str, float] = {}
        workload_writes(producer_over(oplog), with_context=False, with_chains=False, timings=ptimes)
        kfile = workdir / "projected.duckdb"
        records = oplog.records()
        split = int(ptimes["dag_first_position"])
        res["write_projected"] = {"base": project(kfile, records[:split]), "dag": project(kfile, records[split:])}
        log(f"projected (Kafka-sized transactions): {res['write_projected']}")
        with opened_reader(emb) as r:
            q["up20"] = run_query(r, start, 20)
            q["up6"] = run_query(r, start, 6)
            q["up20_events_only"] = run_query(r, start, 20, ["events"])
            if args.profile:
                text = RESULTS_DIR / "lineage_profile.txt"
                text.write_text("get_lineage_subgraph upstream 20 hops on the workload's DAG (bench/lineage_bench.py "
                                "--profile). cProfile does not see inside DuckDB: SQL time is measured by wrapping "
                                "the reader's connection (execute + fetch, wall time).\n\n")
                res["profile"] = profile_call("get_lineage_subgraph upstream 20 hops (open_reader)", r,
                                              lambda: r.get_lineage_subgraph(lineage_query(start, 20)), 10, text, "a")
                log(f"profile: {text.relative_to(REPO_ROOT)}")
            snap = r.links.at(r.con, r.log_position())
            res["lineage_index"] = {
                "links": snap.size if snap else None, "link_bytes": snap.nbytes if snap else None,
                "cached_event_executions": len(r.links._events),
                "cached_event_bytes": sum(len(e[2]) for v in r.links._events.values() for e in v),
            }
            log(f"lineage index: {res['lineage_index']}")
        with opened_reader(kfile) as r:
            q["up20_projected_file"] = run_query(r, start, 20)
        res["queries"] = q
        if args.profile:
            res["write_profile"] = profile_embedded_events(emb, w)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    def mlmd(key: str) -> list[float | None]:
        return [figure(ref, b, key) for b in BACKENDS]

    def nodes(key: str) -> Any:
        return ref.get("results", {}).get("sqlite", {}).get(key)

    rows, comps = [], []
    for label, ours, key, nkey, target in (
        ("upstream 20 hops, open_reader", q["up20"], "d_lineage_dag_last_gen_up20_ms", "d_lineage_dag_last_gen_up20_nodes", 4),
        ("upstream 20 hops, embedded store", q["up20_embedded"], "d_lineage_dag_last_gen_up20_ms", "d_lineage_dag_last_gen_up20_nodes", 4),
        ("upstream 20 hops, Kafka-projected file", q["up20_projected_file"], "d_lineage_dag_last_gen_up20_ms", "d_lineage_dag_last_gen_up20_nodes", 4),
        ("upstream 6 hops, open_reader", q["up6"], "d_lineage_dag_last_gen_up6_ms", "d_lineage_dag_last_gen_up6_nodes", None),
        ("upstream 20 hops, events only", q["up20_events_only"], "d_lineage_dag_up20_events_only_ms", None, None),
    ):
        mem, sql = mlmd(key)
        sp = [ratio(ours["best_ms"], mem, lower_is_better=True), ratio(ours["best_ms"], sql, lower_is_better=True)]
        worst = min((s for s in sp if s is not None), default=None)
        met = None if target is None or worst is None else worst >= target
        comps.append({"query": label, "ours_best_ms": ours["best_ms"], "ours_median_ms": ours["median_ms"],
                      "ours_first_ms": ours["first_ms"],
                      "mlmd_mem_ms": mem, "mlmd_sqlite_ms": sql, "speedup_vs_mem": sp[0], "speedup_vs_sqlite": sp[1],
                      "nodes_ours": ours["nodes"], "nodes_mlmd": nodes(nkey) if nkey else None,
                      "target": f">= {target}x" if target else "", "met": met})
        rows.append([label, fmt(ours["best_ms"], 1), fmt(ours["median_ms"], 1), fmt(ours["first_ms"], 1),
                     fmt(mem, 1), fmt(sql, 1),
                     fmt_ratio(sp[0]), fmt_ratio(sp[1]), str(ours["nodes"]), str(nodes(nkey)) if nkey else "-",
                     comps[-1]["target"], {True: "met", False: "NOT met", None: ""}[met]])
    dag_mem, dag_sql = mlmd("b_dag_total_s")
    for label, seconds in (("DAG write, embedded (workload's calls)", res["write_embedded"]["dag_s"]),
                           ("DAG write, projected in Kafka-sized transactions", res["write_projected"]["dag"]["seconds"])):
        rows.append([label + " (s)", fmt(seconds, 2), "", "", fmt(dag_mem, 2), fmt(dag_sql, 2),
                     fmt_ratio(ratio(seconds, dag_mem, lower_is_better=True)),
                     fmt_ratio(ratio(seconds, dag_sql, lower_is_better=True)), "", "", "", ""])
    res["comparisons"] = comps
    print_table(["lineage (ms)", "ours best", "ours median", "ours first", BACKEND_NAMES["fake"], BACKEND_NAMES["sqlite"],
                 "x vs in-mem", "x vs SQLite", "nodes ours (a, e, ev)", "nodes MLMD", "target", ""], rows,
                title=f"Lineage vs MLMD {ref.get('version')} (speed-up > 1x = ours faster; reference {ref.get('source')})")
    wp = res["write_projected"]["dag"]
    print(f"\nDAG ops projected in Kafka-sized transactions: {wp['ops']} ops in {wp['seconds']} s "
          f"({wp['transactions']} transactions)")
    out = write_results(args.name, res)
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
