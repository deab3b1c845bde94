"""Genuine Apache Kafka against tansu, in the same run: produce rate, project rate and write latency.

For each broker (started as the tests start it, tests/broker.py), on a fresh topic:

* produce: a write-only store puts ``--ops`` one-artifact ops (``put_artifacts`` of 1), then ``sync()``;
  ops/s from the first put to the confirmed sync.
* project: a replica opened on the filled topic projects it from position 0; ops/s until it reaches the end.
* write latency: ``--latency`` times a one-artifact put followed by ``sync()`` on a store with a replica
  (the op is acknowledged by the broker and applied); median and p95.

The brokers run one after the other, alternating ``--repeat`` times; medians are reported with the ratio
Apache Kafka / tansu. Apache Kafka needs java and mvn (tests/apache_kafka.py).

    python bench/brokers.py --ops 20000 --latency 200      # -> bench/results/brokers.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, git_state, machine, running_broker

import mlmd_log
from mlmd_log.proto import metadata_store_pb2 as mlmd

BROKERS = ("tansu", "apache")


def measure(kind: str, ops: int, latency_ops: int) -> dict[str, Any]:
    os.environ["MLMD_LOG_TEST_BROKER"] = kind
    with running_broker() as broker, tempfile.TemporaryDirectory() as tmp:
        url = broker.url(f"b-{uuid.uuid4().hex[:10]}")
        writer = mlmd_log.connect(url)
        type_id = writer.put_artifact_type(mlmd.ArtifactType(name="T"))
        writer.sync()
        started = time.perf_counter()
        for i in range(ops):
            writer.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}")])
        writer.sync()
        produce_s = time.perf_counter() - started
        writer.close()

        started = time.perf_counter()
        replica = mlmd_log.connect(url, db=str(Path(tmp) / "r.duckdb"))
        while replica.log_position() < ops:  # the type op at 0, then the artifacts
            time.sleep(0.005)
        project_s = time.perf_counter() - started

        latencies = []
        for i in range(latency_ops):
            t0 = time.perf_counter()
            replica.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/l/{i}")])
            replica.sync()
            latencies.append((time.perf_counter() - t0) * 1000)
        replica.close()
    latencies.sort()
    return {
        "produce_ops_per_s": ops / produce_s,
        "project_ops_per_s": ops / project_s,
        "write_latency_ms_median": statistics.median(latencies),
        "write_latency_ms_p95": latencies[int(0.95 * (len(latencies) - 1))],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", type=int, default=20_000)
    p.add_argument("--latency", type=int, default=200, help="put + sync() round trips timed")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--name", default="brokers")
    args = p.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in BROKERS}
    for repeat in range(args.repeat):
        for kind in BROKERS if repeat % 2 == 0 else reversed(BROKERS):
            result = measure(kind, args.ops, args.latency)
            runs[kind].append(result)
            print(kind, json.dumps({k: round(v, 2) for k, v in result.items()}), flush=True)
    medians = {kind: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for kind, rs in runs.items()}
    ratios = {k: medians["apache"][k] / medians["tansu"][k] for k in medians["tansu"]}
    print(f"\n{'figure':<28}{'tansu':>12}{'apache':>12}{'apache/tansu':>14}")
    for k in medians["tansu"]:
        print(f"{k:<28}{medians['tansu'][k]:>12.1f}{medians['apache'][k]:>12.1f}{ratios[k]:>14.2f}")
    out = {"args": vars(args), "runs": runs, "medians": medians, "apache_over_tansu": ratios,
           "git": git_state(), "machine": machine()}
    (RESULTS_DIR / f"{args.name}.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
