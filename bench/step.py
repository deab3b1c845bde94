"""The orchestrator step, sequential: ours (embedded, Kafka replica, gRPC server) against MLMD 1.17.1, one run.

A step (:mod:`step_workload`) is ``put_execution`` of 1 execution + 1 input + 1 output artifact + its run
context, then ``get_executions_by_id`` + ``get_events_by_execution_ids``; ``--steps`` of them in a row after
a warm-up. Sides:

* ``embedded``: ``mlmd_log.connect("duckdb:///...")`` in this process.
* ``kafka``: ``connect("kafka://...", db=...)`` (a replica in this process), every put with ``wait=True``.
* ``grpc``: MLMD's own gRPC client (in the reference venv) -> ``mlmd-log serve`` on Kafka (tansu unless
  ``MLMD_LOG_TEST_BROKER`` says else), server in its own process.
* ``grpc-embedded``: the same client -> ``mlmd-log serve`` over an embedded log.
* MLMD 1.17.1 in-process on a SQLite file, measured before each of our sides (so ratios compare minutes
  that are close).

    python bench/step.py                       # all sides, 200 steps
    python bench/step.py --sides embedded --steps 500

Results: ``bench/results/step.json`` (``--out NAME`` for another name) and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from common import TESTS_DIR, fmt, log, machine, print_table, running_broker, write_results
from grpc_bench import running_server
from step_workload import run_steps

import mlmd_log
from mlmd_log.proto import metadata_store_pb2 as pb

WORKLOAD = Path(__file__).resolve().parent / "step_workload.py"
SIDES = ("embedded", "kafka", "grpc", "grpc-embedded")


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    ms = sorted(s * 1e3 for s in seconds)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": statistics.median(ms), "p99_ms": q[98], "mean_ms": statistics.fmean(ms)}


def summarize(raw: dict[str, list[float]]) -> dict[str, Any]:
    """p50/p99 of put, read-back and the whole step."""
    steps = [p + r for p, r in zip(raw["put_s"], raw["read_s"], strict=True)]
    return {"n": len(steps), "put": percentiles(raw["put_s"]), "read": percentiles(raw["read_s"]),
            "step": percentiles(steps)}


def reference(*args: str, timeout: float = 900) -> dict[str, Any]:
    """Run the step workload with MLMD 1.17.1 in the reference venv; its JSON."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    from mlmd_ref import run_reference

    try:
        done = run_reference(WORKLOAD, *args, timeout=timeout)
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"the MLMD side failed: {err.stderr.decode(errors='replace')[-3000:]}") from err
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def mlmd_sqlite(workdir: Path, steps: int) -> dict[str, Any]:
    path = workdir / f"mlmd-{uuid.uuid4().hex[:6]}.sqlite"
    return summarize(reference("sqlite", str(path), "--steps", str(steps)))


class _Waiting:
    """Our Kafka store with ``wait=True`` on every put (the read-your-writes call an orchestrator makes)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name.startswith("put_"):
            return lambda *a, **k: attr(*a, wait=True, **k)
        return attr


@contextmanager
def side_target(side: str, workdir: Path, stack: ExitStack) -> Iterator[Any]:
    """Yield our store (in-process sides) or the server's HOST:PORT (gRPC sides)."""
    if side == "embedded":
        store = mlmd_log.connect(f"duckdb:///{workdir / f'emb-{uuid.uuid4().hex[:6]}.duckdb'}")
        try:
            yield store
        finally:
            store.close()
    elif side == "kafka":
        broker = stack.enter_context(running_broker())
        store = mlmd_log.connect(broker.url(f"step-{uuid.uuid4().hex[:8]}"),
                                 db=str(workdir / f"kafka-{uuid.uuid4().hex[:6]}.duckdb"))
        try:
            yield _Waiting(store)
        finally:
            store.close()
    elif side == "grpc":
        broker = stack.enter_context(running_broker())
        url = broker.url(f"step-{uuid.uuid4().hex[:8]}")
        with running_server(url, str(workdir / f"serve-{uuid.uuid4().hex[:6]}.duckdb"), workdir) as address:
            yield address
    else:
        url = f"duckdb:///{workdir / f'serve-emb-{uuid.uuid4().hex[:6]}.duckdb'}"
        with running_server(url, None, workdir) as address:
            yield address


def measure_side(side: str, workdir: Path, steps: int) -> dict[str, Any]:
    with ExitStack() as stack, side_target(side, workdir, stack) as target:
        if isinstance(target, str):
            return summarize(reference("grpc", target, "--steps", str(steps)))
        return summarize(run_steps(target, pb, steps))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--sides", default=",".join(SIDES))
    p.add_argument("--out", default="step")
    args = p.parse_args()
    sides = [s for s in args.sides.split(",") if s]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlmd-log-bench-step-") as tmp:
        work = Path(tmp)
        for side in sides:
            log(f"MLMD 1.17.1 SQLite file, then ours: {side} ...")
            mlmd = mlmd_sqlite(work, args.steps)
            ours = measure_side(side, work, args.steps)
            results[side] = {"ours": ours, "mlmd_sqlite": mlmd}
    rows = []
    for side, r in results.items():
        for part in ("put", "read", "step"):
            o, m = r["ours"][part], r["mlmd_sqlite"][part]
            rows.append([side, part, fmt(m["p50_ms"], 2), fmt(o["p50_ms"], 2), fmt(o["p50_ms"] / m["p50_ms"], 2),
                         fmt(m["p99_ms"], 2), fmt(o["p99_ms"], 2), fmt(o["p99_ms"] / m["p99_ms"], 2)])
    print_table(["side", "part", "MLMD p50 ms", "ours p50 ms", "ratio", "MLMD p99 ms", "ours p99 ms", "ratio"],
                rows, title=f"orchestrator step, {args.steps} sequential steps (ratio = ours / MLMD, lower is better)")
    path = write_results(args.out, {
        "benchmark": "step", "machine": machine(),
        "params": {"steps": args.steps, "sides": sides, "broker": os.environ.get("MLMD_LOG_TEST_BROKER", "tansu"),
                   "load_average_1m_end": round(os.getloadavg()[0], 2)},
        "notes": ("step = put_execution (1 execution, 1 input + 1 output artifact with events, 1 new context) + "
                  "get_executions_by_id + get_events_by_execution_ids. MLMD 1.17.1 in-process on a SQLite file "
                  "measured just before each of our sides. kafka: wait=True on every put. grpc: MLMD's own "
                  "gRPC client (reference venv) -> mlmd-log serve."),
        "results": results,
    })
    log(f"results: {path}")


if __name__ == "__main__":
    main()
