"""Many orchestrator clients at once: N MLMD gRPC clients doing steps against ``mlmd-log serve``, one run.

Each client is MLMD 1.17.1's own gRPC client (``MetadataStore(MetadataStoreClientConfig)``, one channel
each) in a thread of one reference-venv process, doing the step of :mod:`step_workload` in a loop for
``--seconds``. The server runs in its own process on Kafka (tansu unless ``MLMD_LOG_TEST_BROKER`` says else;
``--log embedded`` for an embedded log). Reported per client count: aggregate steps/s and p50/p99 per step.
The reference is one MLMD in-process client on a SQLite file doing the same steps for the same time, in
the same run.

    python bench/concurrency.py                         # 1, 8, 32 clients, 15 s each
    python bench/concurrency.py --clients 1,8 --seconds 5

Results: ``bench/results/concurrency.json`` (``--out NAME`` for another name) and a table on stdout.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from common import fmt, log, machine, print_table, running_broker, write_results
from grpc_bench import running_server
from step import percentiles, reference


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--log", choices=("kafka", "embedded"), default="kafka")
    p.add_argument("--out", default="concurrency")
    args = p.parse_args()
    counts = [int(c) for c in args.clients.split(",") if c]
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlmd-log-bench-conc-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        log(f"MLMD 1.17.1 in-process, SQLite file, one client, {args.seconds:.0f} s ...")
        raw = reference("sqlite", str(work / "mlmd.sqlite"), "--seconds", str(args.seconds))
        steps = [a + b for a, b in zip(raw["put_s"], raw["read_s"], strict=True)]
        mlmd = {"steps": len(steps), "steps_per_s": len(steps) / sum(steps), **percentiles(steps)}
        if args.log == "kafka":
            broker = stack.enter_context(running_broker())
            url, db = broker.url(f"conc-{uuid.uuid4().hex[:8]}"), str(work / "serve.duckdb")
        else:
            url, db = f"duckdb:///{work / 'serve.duckdb'}", None
        address = stack.enter_context(running_server(url, db, work))
        for n in counts:
            log(f"ours: {n} MLMD gRPC clients -> mlmd-log serve ({args.log}), {args.seconds:.0f} s ...")
            out = reference("grpc", address, "--seconds", str(args.seconds), "--clients", str(n))
            runs[str(n)] = {"clients": n, "steps": len(out["step_s"]),
                            "steps_per_s": len(out["step_s"]) / out["wall_s"], **percentiles(out["step_s"])}
    rows = [["MLMD in-process (SQLite), 1 client", fmt(mlmd["steps_per_s"]), fmt(mlmd["p50_ms"], 2),
             fmt(mlmd["p99_ms"], 2), "1.00"]]
    for n, r in runs.items():
        rows.append([f"ours, {n} gRPC clients", fmt(r["steps_per_s"]), fmt(r["p50_ms"], 2), fmt(r["p99_ms"], 2),
                     fmt(r["steps_per_s"] / mlmd["steps_per_s"], 2)])
    print_table(["who", "steps/s", "p50 ms", "p99 ms", "x MLMD rate"], rows,
                title=f"concurrent orchestrator steps through mlmd-log serve ({args.log}), {args.seconds:.0f} s each")
    path = write_results(args.out, {
        "benchmark": "concurrency", "machine": machine(),
        "params": {"clients": counts, "seconds": args.seconds, "log": args.log,
                   "broker": os.environ.get("MLMD_LOG_TEST_BROKER", "tansu") if args.log == "kafka" else None,
                   "load_average_1m_end": round(os.getloadavg()[0], 2)},
        "notes": ("clients: MLMD 1.17.1's gRPC client in threads of one reference-venv process, one channel each; "
                  "server: mlmd-log serve in its own process. MLMD: one in-process client on a SQLite file."),
        "mlmd_sqlite_one_client": mlmd, "ours": runs,
    })
    log(f"results: {path}")


if __name__ == "__main__":
    main()
