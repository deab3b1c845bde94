"""The lineage explorer on a 1,000-node neighbourhood: first paint and as-of slider steps, in Debian's chromium.

The store (tests/ui_browser.py ``fan_out_store``): one dataset read by 500 Trainers, each writing a Model,
in 10 PipelineRun contexts: 1,001 nodes and 1,000 events downstream of the dataset. The explorer is served
on loopback (``mlmd_log.ui.app.running``) and driven by Playwright.

* first paint: from navigation start of the graph page (downstream, 2 hops) to the frame that shows the
  drawn graph, as the page measures it (``data-paint-ms``: ``performance.now()`` at the first animation
  frame after the layout), in a fresh page each time: the bundle, the lineage request and the layout. The
  wall clock until the page is complete (the 1,001-row table view too) is reported beside it. Collapsed by type (the default at 300+ nodes) and, for comparison, with all 1,001 nodes drawn
  (``collapse=0``, dagre over every node).
* slider step: the as-of slider focused, one ArrowLeft, until the graph is painted again at the previous
  position (from the slider's input event, its 60 ms debounce included), and the wall clock until the page
  is complete.
* the same run's reference: the lineage endpoint alone over HTTP and the store's ``get_lineage_subgraph``
  in this process (there is no MLMD explorer to compare with: MLMD ships no UI), so the browser's share shows.

Target (issue 22): first paint and slider step each under 1 s. Results: bench/results/ui.json.

Usage::

    python bench/ui_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import TESTS_DIR, fmt, log, machine, print_table, write_results


def _summary(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1),
            "min_ms": round(min(samples), 1), "samples_ms": [round(s, 1) for s in samples]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--executions", type=int, default=500)
    args = parser.parse_args()

    import sys

    sys.path.insert(0, str(TESTS_DIR))
    from playwright.sync_api import sync_playwright
    from ui_browser import fan_out_store, launch

    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
    from mlmd_log.store import open_reader
    from mlmd_log.ui.app import running

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium on PATH (apt-get install chromium)")
    results: dict[str, Any] = {"machine": machine(), "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "fan.duckdb")
        started = time.monotonic()
        dataset, last = fan_out_store(path, executions=args.executions)
        log(f"store: {1 + 2 * args.executions} nodes downstream of {dataset}, {last + 1} ops, "
            f"written in {time.monotonic() - started:.1f} s")
        store = open_reader(path)
        options = mlmd.LineageSubgraphQueryOptions(max_num_hops=2, direction=mlmd.LineageSubgraphQueryOptions.DOWNSTREAM)
        options.starting_artifacts.filter_query = f"id = {dataset}"
        store_ms = []
        for _ in range(args.runs):
            t = time.perf_counter()
            graph = store.get_lineage_subgraph(options)
            store_ms.append((time.perf_counter() - t) * 1000)
        results["nodes"] = len(graph.artifacts) + len(graph.executions)
        with running(store) as url, sync_playwright() as playwright:
            api_ms = []
            for _ in range(args.runs):
                t = time.perf_counter()
                with urllib.request.urlopen(url + f"api/lineage/{dataset}?direction=down&hops=2") as response:
                    json.loads(response.read())
                api_ms.append((time.perf_counter() - t) * 1000)
            browser = launch(playwright, chromium)
            paint: dict[str, list[float]] = {"collapsed": [], "all_nodes": []}
            ready: dict[str, list[float]] = {"collapsed": [], "all_nodes": []}
            for mode, extra in (("collapsed", ""), ("all_nodes", "&collapse=0")):
                for _ in range(args.runs if mode == "collapsed" else 1):
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    t = time.perf_counter()
                    page.goto(url + f"#/graph/{dataset}?direction=down&hops=2{extra}")
                    page.wait_for_selector("body[data-graph-ready]", timeout=300_000)
                    ready[mode].append((time.perf_counter() - t) * 1000)
                    paint[mode].append(float(page.evaluate("document.body.dataset.paintMs")))
                    page.close()
            step_ms, step_paint = [], []
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + f"#/graph/{dataset}?direction=down&hops=2")
            page.wait_for_selector("body[data-graph-ready]")
            page.focus("#asof-slider")
            position = last
            for _ in range(args.runs):
                position -= 1
                t = time.perf_counter()
                page.keyboard.press("ArrowLeft")
                page.wait_for_function(f"(document.body.dataset.graphReady || '').startsWith('{position}:')",
                                       timeout=60_000)
                step_ms.append((time.perf_counter() - t) * 1000)
                step_paint.append(float(page.evaluate("document.body.dataset.paintMs")))
            browser.close()
    results["first_paint_collapsed"] = _summary(paint["collapsed"])
    results["page_ready_collapsed"] = _summary(ready["collapsed"])
    results["first_paint_all_nodes"] = _summary(paint["all_nodes"])
    results["slider_step_paint"] = _summary(step_paint)
    results["slider_step_ready"] = _summary(step_ms)
    results["reference_lineage_endpoint_http"] = _summary(api_ms)
    results["reference_get_lineage_subgraph_in_process"] = _summary(store_ms)
    rows = [[name, fmt(results[key]["median_ms"], 1), fmt(results[key]["max_ms"], 1)] for name, key in (
        ("first paint, collapsed by type", "first_paint_collapsed"),
        ("  page ready (graph + table view), wall clock", "page_ready_collapsed"),
        ("first paint, all 1,001 nodes drawn (once)", "first_paint_all_nodes"),
        ("slider step, graph painted", "slider_step_paint"),
        ("  slider step, page ready, wall clock", "slider_step_ready"),
        ("reference: lineage endpoint over HTTP", "reference_lineage_endpoint_http"),
        ("reference: get_lineage_subgraph in process", "reference_get_lineage_subgraph_in_process"),
    )]
    print_table(["measure", "median ms", "max ms"], rows, title=f"Explorer on a {results['nodes']}-node neighbourhood")
    log("wrote", write_results("ui", results))


if __name__ == "__main__":
    main()
