"""Producer throughput (docs/design.md, "Targets"): our write API vs raw kafka-python, and vs MLMD 1.17.1.

Three message shapes, each an op our Producer really writes:

* ``op_200B``: ``put_artifacts`` of 1 workload artifact (uri + 3 properties): ~190 B per op.
* ``op_2KB``: the same artifact plus a 1,800-character custom property: ~2,000 B per op.
* ``batch_1000``: ``put_artifacts`` of 1000 workload artifacts: ~73 KB per op.

For each shape, on the same tansu broker and in alternating repeats (fresh topic each time):

* **ours**: ``mlmd_log.connect("kafka://.../topic")`` (write-only) ``put_artifacts`` calls,
  timed from the first call until ``sync()`` confirms delivery. Artifacts are built before the
  clock starts (they are the caller's cost, and the raw sender gets ready-made bytes too);
  id lease and connection are warmed up first. Each call's latency is recorded too: ids come
  back without waiting for the broker.
* **raw**: ``KafkaProducer.send`` of the very bytes our Producer produced for the same calls
  (captured through the Producer API with an in-memory log), with our writer's settings:
  ``acks=all``, idempotent, the same ``linger_ms``, ``batch_size``, compression and
  ``max_request_size``; timed until ``flush()`` returns.

Also timed, to split ours into its layers: **writer** (our transport, ``KafkaLogWriter.send`` of
the same bytes, then ``flush()``) and **API only** (the Producer over an in-memory log: envelope,
checks, ids, encoding; no transport).

Reported: ops/s, MB/s, ours / raw (target >= 80%), and against MLMD's put_artifacts
measured in the same run (batch of 1: ms per call; batch of 1000: artifacts/s).

Usage::

    python bench/producer.py [--repeat 3] [--reference-from bench/results/mlmd_reference.json]
"""

from __future__ import annotations

import argparse
import cProfile
import statistics
import tempfile
import time
import uuid
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
    running_broker,
    write_profile_text,
    write_results,
)
from mlmd_reference import BACKENDS, add_reference_args, figure, reference_from_args

import mlmd_log
from mlmd_log.ids import type_id_for
from mlmd_log.producer.api import Producer
from mlmd_log.producer.transport import KafkaLogWriter
from mlmd_log.schemas.v1 import ops_pb2
from mlmd_log.settings import Settings

TARGET_VS_RAW = 0.8
FRAMING_BYTES = 64 * 1024  # producer/transport.py's FRAMING_BYTES: room for headers above max_op_bytes
NOTE_CHARS = 1_800


class CaptureLog:
    """An in-memory :class:`~mlmd_log.producer.log.OpLog` that keeps the bytes the Producer encodes."""

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self._leases = 0

    def append(self, op: ops_pb2.Operation, data: bytes, *, wait: bool = False) -> None:
        self.data.append(data)

    def lease(self, op: ops_pb2.Operation, data: bytes) -> int:
        self._leases += 1
        return self._leases

    def sync(self, timeout: float | None = None) -> None:
        """Nothing to deliver."""

    def close(self, timeout: float | None = None) -> None:
        """Nothing to release."""


def calls_for(shape: str, count: int, type_id: int) -> list[list[Any]]:
    """The artifact lists of ``count`` put_artifacts calls of ``shape``, built ahead of the clock."""
    if shape == "batch_1000":
        return [[make_artifact(type_id, c * ARTIFACTS_PER_BATCH + i) for i in range(ARTIFACTS_PER_BATCH)]
                for c in range(count)]
    calls = []
    for i in range(count):
        a = make_artifact(type_id, i)
        if shape == "op_2KB":
            a.custom_properties["notes"].string_value = (f"{i}:" + "x" * NOTE_CHARS)[:NOTE_CHARS]
        calls.append([a])
    return calls


def encoded(calls: list[list[Any]]) -> tuple[list[bytes], float]:
    """The op bytes our Producer writes for ``calls`` (new op ids and ids, same shape and size), and the
    seconds the Producer API took without any transport (envelope, checks, ids, encoding)."""
    capture = CaptureLog()
    producer = Producer(capture, Settings())
    producer.put_artifacts(calls[0][:1])  # the first lease, outside the clock
    capture.data.clear()
    t0 = time.perf_counter()
    for artifacts in calls:
        producer.put_artifacts(artifacts)
    return capture.data, time.perf_counter() - t0


def run_ours(url: str, calls: list[list[Any]], profile: Path | None = None) -> dict[str, Any]:
    """Our write-only Kafka store: put every call, then ``sync()``; per-call latency recorded.

    With ``profile``, the timed part runs under cProfile (stats dumped there; figures then inflated).
    """
    store = mlmd_log.connect(url)
    try:
        store.put_artifact_type(artifact_type())
        store.put_artifacts([make_artifact(type_id_for("artifact", "DataSet", None), -1)])  # lease + connect
        store.sync()
        latencies = []
        clock = time.perf_counter
        profiler = cProfile.Profile() if profile is not None else None
        if profiler is not None:
            profiler.enable()
        t0 = clock()
        for artifacts in calls:
            c0 = clock()
            store.put_artifacts(artifacts)
            latencies.append(clock() - c0)
        t_calls = clock()
        store.sync()
        t1 = clock()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
    finally:
        store.close()
    latencies.sort()
    return {
        "seconds": t1 - t0, "calls_s": t_calls - t0,
        "call_p50_ms": latencies[len(latencies) // 2] * 1e3,
        "call_p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
    }


def run_raw(bootstrap: str, topic: str, payloads: list[bytes]) -> dict[str, Any]:
    """kafka-python alone: send the same bytes with our writer's settings, then ``flush()``."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    settings = Settings()
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap])
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": "-1"})])
    finally:
        admin.close()
    producer = KafkaProducer(
        bootstrap_servers=[bootstrap], acks="all", enable_idempotence=True, linger_ms=settings.linger_ms,
        batch_size=settings.batch_bytes, compression_type=None if settings.compression == "none" else settings.compression,
        max_request_size=max(settings.max_op_bytes, settings.batch_bytes) + FRAMING_BYTES,
    )
    try:
        producer.send(topic, value=payloads[0], partition=0).get(timeout=30)  # connect + producer id
        t0 = time.perf_counter()
        for data in payloads:
            producer.send(topic, value=data, partition=0)
        t_calls = time.perf_counter()
        producer.flush()
        t1 = time.perf_counter()
    finally:
        producer.close()
    return {"seconds": t1 - t0, "calls_s": t_calls - t0}


def run_writer(bootstrap: str, topic: str, payloads: list[bytes]) -> dict[str, Any]:
    """Our transport alone (``KafkaLogWriter.send`` of the same bytes, then ``flush()``): no Producer API."""
    writer = KafkaLogWriter(Settings(), [bootstrap], topic)
    try:
        writer.ensure_topic()
        writer.send(payloads[0]).position(30)  # connect + producer id
        t0 = time.perf_counter()
        for data in payloads:
            writer.send(data)
        t_calls = time.perf_counter()
        writer.flush()
        t1 = time.perf_counter()
    finally:
        writer.close()
    return {"seconds": t1 - t0, "calls_s": t_calls - t0}


def measure_shape(broker: Any, shape: str, count: int, repeat: int) -> dict[str, Any]:
    """Run ours, our writer and raw ``repeat`` times each (rotating the order) on fresh topics; medians."""
    type_id = type_id_for("artifact", "DataSet", None)
    calls = calls_for(shape, count, type_id)
    payloads, api_s = encoded(calls)
    op_bytes = sum(len(p) for p in payloads) / len(payloads)
    artifacts = sum(len(c) for c in calls)
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "writer": [], "raw": []}
    order = ["raw", "writer", "ours"]
    for r in range(repeat):
        for who in order[r % 3:] + order[:r % 3]:  # rotate, so no contender always runs first
            topic = f"bench-producer-{shape}-{who}-{uuid.uuid4().hex[:8]}"
            if who == "ours":
                result = run_ours(broker.url(topic), calls)
            elif who == "writer":
                result = run_writer(broker.bootstrap, topic, payloads)
            else:
                result = run_raw(broker.bootstrap, topic, payloads)
            result["ops_per_s"] = count / result["seconds"]
            result["mb_per_s"] = count * op_bytes / result["seconds"] / 1e6
            result["artifacts_per_s"] = artifacts / result["seconds"]
            runs[who].append(result)
            log(f"  {shape} {who} #{r + 1}: {result['ops_per_s']:,.0f} ops/s ({result['mb_per_s']:.1f} MB/s)")

    def median(who: str, key: str) -> float:
        return float(statistics.median(x[key] for x in runs[who]))

    out: dict[str, Any] = {
        "ops": count, "artifacts_per_op": artifacts // count, "op_bytes": round(op_bytes, 1),
        "ours_ops_per_s": median("ours", "ops_per_s"), "raw_ops_per_s": median("raw", "ops_per_s"),
        "writer_ops_per_s": median("writer", "ops_per_s"),
        "writer_us_per_op": 1e6 / median("writer", "ops_per_s"),
        "ours_mb_per_s": median("ours", "mb_per_s"), "raw_mb_per_s": median("raw", "mb_per_s"),
        "ours_artifacts_per_s": median("ours", "artifacts_per_s"),
        "ours_call_p50_ms": median("ours", "call_p50_ms"), "ours_call_p99_ms": median("ours", "call_p99_ms"),
        "ours_ms_per_op": 1e3 / median("ours", "ops_per_s"),
        "api_only_ops_per_s": count / api_s,
        "raw_us_per_op": 1e6 / median("raw", "ops_per_s"),
        "ours_us_per_op": 1e6 / median("ours", "ops_per_s"),
        "api_only_us_per_op": 1e6 * api_s / count,
        "runs": runs,
    }
    out["ours_over_raw"] = out["ours_ops_per_s"] / out["raw_ops_per_s"]
    out["writer_over_raw"] = out["writer_ops_per_s"] / out["raw_ops_per_s"]
    return out


def profile_shape(broker: Any, shape: str, count: int, report: Path, first: bool) -> dict[str, Any]:
    """One more run of ours under cProfile; top functions appended to ``report``."""
    calls = calls_for(shape, count, type_id_for("artifact", "DataSet", None))
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "producer.pstats"
        run = run_ours(broker.url(f"bench-producer-profile-{uuid.uuid4().hex[:8]}"), calls, stats)
        cumulative, own = profile_rows(stats, "cumulative", 30), profile_rows(stats, "tottime", 30)
    write_profile_text(report, f"### {shape}: {count:,} put_artifacts calls + sync() under cProfile: "
                       f"{run['seconds']:.2f} s", cumulative, own, mode="w" if first else "a")
    return {"top_cumulative": cumulative[:15], "top_tottime": own[:15]}


def main() -> None:
    """Measure every shape, print the table, write ``bench/results/producer.json``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops-small", type=int, default=100_000, help="ops of ~200 B per run")
    p.add_argument("--ops-large", type=int, default=40_000, help="ops of ~2 KB per run")
    p.add_argument("--ops-batch", type=int, default=200, help="put_artifacts calls of 1000 artifacts per run")
    p.add_argument("--repeat", type=int, default=3, help="alternating runs of ours and raw; medians reported")
    p.add_argument("--name", default="producer")
    p.add_argument("--profile", action="store_true", help="also profile one run of ours per shape (cProfile)")
    add_reference_args(p)
    args = p.parse_args()
    info = machine()
    ref = reference_from_args(args)
    shapes: dict[str, Any] = {}
    with running_broker() as broker:
        for shape, count in (("op_200B", args.ops_small), ("op_2KB", args.ops_large), ("batch_1000", args.ops_batch)):
            log(f"{shape}: {count:,} ops x {args.repeat} repeats ...")
            shapes[shape] = measure_shape(broker, shape, count, args.repeat)
            if args.profile:
                shapes[shape]["profile"] = profile_shape(
                    broker, shape, count, RESULTS_DIR / f"{args.name}_profile.txt", first=shape == "op_200B")

    mlmd_ms = {b: figure(ref, b, "a_put_artifacts_batch1_ms_per_call") for b in BACKENDS}
    mlmd_bulk = {b: figure(ref, b, "a_put_artifacts_batch1000_per_s") for b in BACKENDS}
    rows = []
    for shape, s in shapes.items():
        if shape == "batch_1000":
            vs = [ratio(s["ours_artifacts_per_s"], mlmd_bulk[b]) for b in ("sqlite", "fake")]
        else:
            vs = [ratio(s["ours_ms_per_op"], mlmd_ms[b], lower_is_better=True) for b in ("sqlite", "fake")]
        s["vs_mlmd"] = {"sqlite": vs[0], "fake": vs[1]}
        rows.append([
            shape, fmt(s["op_bytes"]), fmt(s["ours_ops_per_s"]), fmt(s["raw_ops_per_s"]), f"{s['ours_over_raw']:.0%}",
            f"{s['writer_over_raw']:.0%}", fmt(s["api_only_ops_per_s"]),
            f"{s['raw_us_per_op']:.1f} / {s['writer_us_per_op']:.1f} / {s['api_only_us_per_op']:.1f} / "
            f"{s['ours_us_per_op']:.1f}",
            fmt(s["ours_mb_per_s"], 1), fmt(s["ours_artifacts_per_s"]), fmt(s["ours_call_p50_ms"], 4),
            fmt_ratio(vs[0]), fmt_ratio(vs[1]),
        ])
    print_table(
        ["op", "bytes/op", "ours ops/s", "raw ops/s", "ours/raw", "writer/raw", "API only ops/s",
         "us/op raw / writer / API / ours",
         "ours MB/s", "artifacts/s", "call p50 ms",
         "vs MLMD SQLite", "vs MLMD in-mem"],
        rows,
        title=f"Producer: write-only Kafka store vs raw kafka-python, medians of {args.repeat} "
              f"(target ours/raw >= {TARGET_VS_RAW:.0%}). vs MLMD: batch 1 = MLMD ms/call over ours; "
              "batch 1000 = artifacts/s over MLMD's",
    )
    print(f"MLMD put_artifacts batch 1: {fmt(mlmd_ms['sqlite'], 3)} ms/call (SQLite), "
          f"{fmt(mlmd_ms['fake'], 3)} (in-memory); batch 1000: {fmt(mlmd_bulk['sqlite'])} / "
          f"{fmt(mlmd_bulk['fake'])} artifacts/s")
    below = [s for s, v in shapes.items() if v["ours_over_raw"] < TARGET_VS_RAW]
    path = write_results(args.name, {
        "benchmark": "producer", "machine": info, "reference": ref, "settings": Settings().model_dump(
            include={"linger_ms", "batch_bytes", "buffer_bytes", "compression", "max_op_bytes"}),
        "shapes": shapes, "target_ours_over_raw": TARGET_VS_RAW, "below_target": below,
    })
    if args.profile:
        print(f"profiles of our send path: {(RESULTS_DIR / f'{args.name}_profile.txt').relative_to(REPO_ROOT)}")
    print(f"\nwrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
