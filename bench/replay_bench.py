"""Replay (target: a full replay of 1M ops <= 60 s): rebuild a projection from its op archive.

1. **Build the source**: ``--ops`` small ops (default 1M) written with our Producer API over a log
   that collects the encoded ops (position = index, as on a topic): ``put_artifacts`` of
   ``--artifacts-per-op`` workload artifacts (default 2, 3 properties each; ~250 B per op), every
   10th op an update of 2 artifacts written earlier (full replace, ``day`` changed: history). Lease
   ops come with them, as the Producer appends them. Generated and projected in chunks of 100k ops
   into a DuckDB file by ``Projector`` in transactions of at most 2,000 ops / 4 MiB;
   its projector keeps every consumed record in ``op_archive``.
2. **Replay**: a fresh process runs ``mlmd_log.projector.replay.replay_archive(source, target)``
   (its default batch: 5,000 records per transaction) into a fresh file; timed from the call to its
   return, RSS sampled by psutil every 20 ms (peak and after start-up reported).
3. **Check**: the replayed tables equal the source's (row counts and an order-independent hash of
   every node version, property version and archive row).

MLMD has no replay; the ratio shown is against MLMD re-executing the same writes, with its best
rate measured in the same run: put_artifacts in batches of 1000 (artifacts/s, [a_put_artifacts_batch1000_per_s])
and batch of 1 (calls/s, [a_put_artifacts_batch1_per_s]).

``--profile`` replays the first 100k ops once more under cProfile (``results/replay_profile.txt``).

Usage::

    python bench/replay_bench.py --reference-from bench/results/reads.json --profile
    python bench/replay_bench.py --ops 200000    # smaller, extrapolated to 1M in the table
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import (
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
    write_profile_text,
    write_results,
)
from mlmd_reference import BACKEND_NAMES, BACKENDS, add_reference_args, figure, reference_from_args
from reads import CollectingLog, producer_over

from mlmd_log.projector.catalog import ROW_GROUP_SIZE as REPLAY_ROW_GROUP_SIZE

CHUNK_OPS = 100_000
TX_MAX_OPS = 2_000
TX_MAX_BYTES = 4 * 1024 * 1024


def build_source(path: Path, n_ops: int, per_op: int) -> dict[str, Any]:
    """Append ``n_ops`` small ops through the Producer and project them into ``path``, chunk by chunk."""
    import duckdb

    from mlmd_log.projector.engine import Projector
    from mlmd_log.projector.records import LogRecord

    oplog = CollectingLog()
    producer = producer_over(oplog)
    type_id = producer.put_artifact_type(artifact_type())
    con = duckdb.connect(str(path))
    projector = Projector(con)
    done_pos, i, ids, rejected, txs = 0, 0, [], 0, 0
    api_s = proj_s = 0.0
    put_ops = 0
    t_all = time.perf_counter()
    while put_ops < n_ops:
        t = time.perf_counter()
        for _ in range(min(CHUNK_OPS, n_ops - put_ops)):
            if put_ops % 10 == 9 and len(ids) > 2:
                k = (put_ops * 7919) % (len(ids) - 1)
                batch = []
                for j in (k, k + 1):
                    a = make_artifact(type_id, j)
                    a.id = ids[j]
                    a.properties["day"].int_value = (j + put_ops) % 1000
                    batch.append(a)
                producer.put_artifacts(batch)
            else:
                ids.extend(producer.put_artifacts([make_artifact(type_id, i + j) for j in range(per_op)]))
                i += per_op
            put_ops += 1
        api_s += time.perf_counter() - t
        t = time.perf_counter()
        ops = oplog.ops  # project what was appended since the last chunk, then drop it
        batch_recs: list[Any] = []
        size = 0
        for k, data in enumerate(ops):
            batch_recs.append(LogRecord(done_pos + k, 1_767_225_600_000 + done_pos + k, None, data))
            size += len(data)
            if len(batch_recs) >= TX_MAX_OPS or size >= TX_MAX_BYTES or k == len(ops) - 1:
                rejected += len(projector.project(batch_recs).rejected)
                batch_recs, size, txs = [], 0, txs + 1
        done_pos += len(ops)
        oplog.start, oplog.ops = done_pos, []
        proj_s += time.perf_counter() - t
        log(f"  source: {put_ops:,} put ops ({done_pos:,} log records) in {time.perf_counter() - t_all:.0f} s")
    con.close()
    return {"records": done_pos, "put_ops": put_ops, "artifacts_new": i, "api_s": round(api_s, 2),
            "project_s": round(proj_s, 2), "transactions": txs, "rejected": rejected,
            "project_records_per_s": round(done_pos / proj_s), "bytes": path.stat().st_size}


def replay_worker(source: str, target: str, profile: str | None, up_to: int | None, row_group_size: int) -> None:
    """(In a fresh process) replay ``source``'s archive into ``target``; print JSON timings on stdout.

    ``target`` is opened as ``mlmd-log replay`` opens it (``row_group_size`` 0: DuckDB's default row groups).
    """
    import cProfile

    import duckdb

    from mlmd_log.projector.replay import replay_archive
    from mlmd_log.store import open_duckdb

    t0 = time.perf_counter()
    src = duckdb.connect(source, read_only=True)
    dst = open_duckdb(target, row_group_size=row_group_size or None)
    startup = time.perf_counter() - t0
    print("READY", flush=True)
    prof = cProfile.Profile() if profile else None
    marks: list[tuple[int, float]] = []
    t = time.perf_counter()
    if prof:
        prof.enable()
    done = replay_archive(src, dst, up_to=up_to, progress=lambda n: marks.append((n, time.perf_counter() - t)))
    if prof:
        prof.disable()
        prof.dump_stats(profile)
    seconds = time.perf_counter() - t
    src.close()
    dst.close()
    print(json.dumps({"records": done, "seconds": seconds, "startup_s": startup,
                      "progress": [(n, round(s, 3)) for n, s in marks[:: max(1, len(marks) // 20)]]}), flush=True)


class RssSampler:
    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            try:
                self.samples.append((time.perf_counter() - t0, self.proc.memory_info().rss))
            except Exception:  # the process ended
                return
            self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_replay(
    source: Path, target: Path, profile: Path | None = None, up_to: int | None = None, row_group_size: int = 0
) -> dict[str, Any]:
    cmd = [sys.executable, str(BENCH_DIR / "replay_bench.py"), "--replay-worker", str(source), str(target),
           "--row-group-size", str(row_group_size)]
    if profile:
        cmd += ["--worker-profile", str(profile)]
    if up_to is not None:
        cmd += ["--up-to", str(up_to)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    assert proc.stdout is not None
    ready = proc.stdout.readline().strip()
    sampler = RssSampler(proc.pid)
    if ready != "READY":
        raise SystemExit(f"replay worker failed to start: {ready}")
    start_rss = sampler.proc.memory_info().rss
    out = json.loads(proc.stdout.readline())
    proc.wait()
    sampler.stop()
    rss = [r for _, r in sampler.samples]
    out["rss_start_mb"] = round(start_rss / 2**20)
    out["rss_peak_mb"] = round(max(rss) / 2**20) if rss else None
    return out


def compare(source: Path, target: Path, sample: int = 20_000) -> dict[str, Any]:
    """Row counts and order-independent hashes of the main tables, source vs replayed.

    The stored messages (``proto``) are compared parsed, on a sample: protobuf does not promise one
    byte order for map entries (``properties``), and two processes do serialize them differently.
    """
    import duckdb

    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

    con = duckdb.connect()
    con.execute(f"ATTACH '{source}' AS s (READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS t (READ_ONLY)")
    checks = {
        "artifact_versions": "count(*), sum(hash(id, valid_from, valid_to, type_id, name, uri, state, "
                             "create_time_since_epoch, last_update_time_since_epoch))",
        "artifact_property_versions": "count(*), sum(hash(artifact_id, valid_from, name, is_custom, int_value, "
                                      "double_value, string_value))",
        "op_archive": "count(*), sum(hash(position, op_id, record_time_ms, log_time_ms, outcome, bytes))",
        "type_versions": "count(*), sum(hash(id, valid_from, valid_to))",
        "rejections": "count(*), sum(hash(position, error_code))",
    }
    out: dict[str, Any] = {}
    for table, expr in checks.items():
        a = con.execute(f"SELECT {expr} FROM s.{table}").fetchone()
        b = con.execute(f"SELECT {expr} FROM t.{table}").fetchone()
        out[table] = {"rows": a[0], "equal": a == b}
    rows = con.execute(
        "SELECT a.proto, b.proto, a.proto = b.proto FROM (SELECT * FROM s.artifact_versions USING SAMPLE "
        f"{int(sample)} ROWS) a JOIN t.artifact_versions b ON a.id = b.id AND a.valid_from = b.valid_from"
    ).fetchall()
    equal = sum(mlmd.Artifact.FromString(x) == mlmd.Artifact.FromString(y) for x, y, _ in rows)
    out["artifact_messages_sample"] = {"rows": len(rows), "equal_parsed": equal,
                                       "equal_bytes": sum(1 for *_, same in rows if same)}
    con.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replay-worker", nargs=2, metavar=("SOURCE", "TARGET"), help=argparse.SUPPRESS)
    p.add_argument("--worker-profile", default=None, help=argparse.SUPPRESS)
    p.add_argument("--up-to", type=int, default=None, help=argparse.SUPPRESS)
    add_reference_args(p)
    p.add_argument("--ops", type=int, default=1_000_000)
    p.add_argument("--artifacts-per-op", type=int, default=2)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--source", type=Path, default=None, help="reuse a source file built earlier (same --ops)")
    p.add_argument("--name", default=None)
    p.add_argument("--row-group-size", type=int, default=REPLAY_ROW_GROUP_SIZE,
                   help=f"row groups of the replayed file (default {REPLAY_ROW_GROUP_SIZE:,}, as `mlmd-log replay`; "
                        "0: DuckDB's default, 122,880)")
    args = p.parse_args()
    if args.replay_worker:
        replay_worker(*args.replay_worker, args.worker_profile, args.up_to, args.row_group_size)
        return
    mach = machine()
    ref = reference_from_args(args)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mlmd_replay_"))
    workdir.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {"benchmark": "replay", "machine": mach, "reference": ref,
                           "settings": {"ops": args.ops, "artifacts_per_op": args.artifacts_per_op,
                                        "row_group_size": args.row_group_size}}
    try:
        source = args.source or workdir / "source.duckdb"
        if args.source is None:
            log(f"building the source: {args.ops:,} ops ...")
            res["source"] = build_source(source, args.ops, args.artifacts_per_op)
            log(f"source: {res['source']}")
        target = workdir / "replayed.duckdb"
        target.unlink(missing_ok=True)
        log("replaying ...")
        res["replay"] = run_replay(source, target, row_group_size=args.row_group_size)
        rp = res["replay"]
        log(f"replay: {rp['records']:,} records in {rp['seconds']:.1f} s, peak RSS {rp['rss_peak_mb']} MB")
        res["check"] = compare(source, target)
        if args.profile:
            ptarget = workdir / "profiled.duckdb"
            stats = workdir / "replay.prof"
            up_to = min(100_000, rp["records"]) - 1
            prof_run = run_replay(source, ptarget, stats, up_to=up_to, row_group_size=args.row_group_size)
            cum, own = profile_rows(stats, "cumulative", 35), profile_rows(stats, "tottime", 25)
            text = RESULTS_DIR / "replay_profile.txt"
            write_profile_text(text, f"replay_archive of the first {up_to + 1:,} records under cProfile: "
                               f"{prof_run['seconds']:.1f} s (cProfile does not see inside DuckDB: its time is the own "
                               "time of the Python function that called it)", cum, own)
            res["profile"] = {"records": up_to + 1, "seconds": prof_run["seconds"], "top_cumulative": cum[:20],
                              "top_own": own[:15]}
            log(f"profile: {text.relative_to(REPO_ROOT)}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    rp = res["replay"]
    records = rp["records"]
    per_s = records / rp["seconds"]
    at_1m = 1_000_000 / per_s
    artifacts_per_s = (res.get("source", {}).get("artifacts_new", 0) + (args.ops // 10) * 2) / rp["seconds"] \
        if "source" in res else None
    res["summary"] = {"records_per_s": per_s, "seconds_for_1m_ops": at_1m, "met": at_1m <= 60,
                      "artifacts_written_per_s": artifacts_per_s}
    rows = [["replay_archive", fmt(records), fmt(rp["seconds"], 1), fmt(per_s), fmt(at_1m, 1),
             "met" if at_1m <= 60 else "NOT met", f"{rp['rss_start_mb']} / {rp['rss_peak_mb']}"]]
    if "source" in res:
        s = res["source"]
        rows.append(["building the source (projector, Kafka-sized tx)", fmt(s["records"]), fmt(s["project_s"], 1),
                     fmt(s["project_records_per_s"]), fmt(1_000_000 / s["project_records_per_s"], 1), "", ""])
    print_table(["", "log records", "seconds", "records/s", "s per 1M ops", "target <= 60 s", "RSS start / peak MB"],
                rows, title=f"Replay ({args.ops:,} put ops of {args.artifacts_per_op} artifacts, every 10th an update)")
    mrows = []
    for key, label, ours in (
        ("a_put_artifacts_batch1000_per_s", "MLMD put_artifacts batch 1000 (artifacts/s) vs replay artifacts/s", artifacts_per_s),
        ("a_put_artifacts_batch1_per_s", "MLMD put_artifacts batch 1 (calls/s) vs replay ops/s", per_s),
    ):
        vals = [figure(ref, b, key) for b in BACKENDS]
        mrows.append([label, fmt(ours), *(fmt(v) for v in vals), *(fmt_ratio(ratio(ours, v)) for v in vals)])
    res["vs_mlmd"] = mrows
    print_table(["", "ours", BACKEND_NAMES["fake"], BACKEND_NAMES["sqlite"], "x vs in-mem", "x vs SQLite"], mrows,
                title=f"Against MLMD {ref.get('version')} re-executing the writes (reference {ref.get('source')})")
    print(f"\nreplayed tables equal the source: {res['check']}")
    out = write_results(args.name or ("replay" if args.ops == 1_000_000 else f"replay_{args.ops}"), res)
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
