"""``mlmd-log import`` of an MLMD store, against ml-metadata reading the same store through its own API.

Builds (once, cached under ``.cache/import-bench/``) an MLMD 1.17.1 SQLite store of N artifacts, N/2
executions and N events with ml-metadata itself (``tests/mlmd_build_store.py --scale N``), then measures in
the same run:

- MLMD: open the store and read every artifact, execution, context and event through its Python API;
- ours: ``import_store`` into a new embedded log, and into a Kafka topic (tansu) with a replica projecting it
  (read in one snapshot, appended as imported ops, projected; done when the projection holds everything).

Both are reported as rows per second over the same rows; the ratio is ours / MLMD (> 1: the import is
faster than MLMD reads the store). Usage: ``python bench/import_bench.py [--n 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import REPO_ROOT, fmt, fmt_ratio, log, machine, print_table, ratio, running_broker, write_results

sys.path.insert(0, str(REPO_ROOT / "tests"))
from mlmd_ref import reference_python

_READ_ALL = """
import json, sys, time
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as m
config = m.ConnectionConfig()
config.sqlite.filename_uri = sys.argv[1]
config.sqlite.connection_mode = 1
start = time.perf_counter()
store = metadata_store.MetadataStore(config)
artifacts = store.get_artifacts()
rows = len(artifacts) + len(store.get_executions()) + len(store.get_contexts())
ids = [a.id for a in artifacts]
for i in range(0, len(ids), 10000):
    rows += len(store.get_events_by_artifact_ids(ids[i:i + 10000]))
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start}))
"""


def build_store(n: int) -> Path:
    path = REPO_ROOT / ".cache" / "import-bench" / f"mlmd-{n}.db"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    log(f"building an MLMD store of {n:,} artifacts with ml-metadata (once)")
    subprocess.run([str(reference_python()), str(REPO_ROOT / "tests" / "mlmd_build_store.py"), "sqlite",
                    str(partial), "--scale", str(n)], check=True)
    partial.replace(path)
    return path


def mlmd_reads(path: Path) -> dict[str, float]:
    done = subprocess.run([str(reference_python()), "-c", _READ_ALL, str(path)], check=True,
                          capture_output=True, text=True)
    out = json.loads(done.stdout)
    return {"rows": out["rows"], "seconds": out["seconds"], "rows_per_s": out["rows"] / out["seconds"]}


def our_import(path: Path, kafka_url: str | None = None) -> dict[str, float]:
    """Import into a new embedded log, or (``kafka_url``) into a topic with a replica projecting it."""
    import mlmd_log.store  # noqa: F401  # loaded before the clock starts, as in a running process
    from mlmd_log.migrate.importer import import_store

    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        log, db = (kafka_url, f"{tmp}/replica.duckdb") if kafka_url else (f"duckdb:///{tmp}/log.duckdb", None)
        start = time.perf_counter()
        report = import_store(str(path), log, db, progress=False)
        seconds = time.perf_counter() - start
    return {"rows": report.rows, "ops": report.appended, "seconds": seconds, "rows_per_s": report.rows / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="artifacts in the store (default 1M)")
    parser.add_argument("--name", default="import", help="results name (default import)")
    args = parser.parse_args()
    path = build_store(args.n)
    log("MLMD reads the store through its API")
    reference = mlmd_reads(path)
    log("mlmd-log imports the store (embedded log)")
    ours = our_import(path)
    log("mlmd-log imports the store (Kafka, a replica projecting it)")
    with running_broker() as broker:
        kafka = our_import(path, broker.url(f"import-bench-{uuid.uuid4().hex[:8]}"))
    rows = [["ml-metadata 1.17.1 reads", fmt(reference["rows"]), fmt(reference["seconds"], 1),
             fmt(reference["rows_per_s"]), ""]]
    for label, result in (("mlmd-log import, embedded", ours), ("mlmd-log import, Kafka + replica", kafka)):
        rows.append([label, fmt(result["rows"]), fmt(result["seconds"], 1), fmt(result["rows_per_s"]),
                     fmt_ratio(ratio(result["rows_per_s"], reference["rows_per_s"]))])
    print_table(["", "rows", "seconds", "rows/s", "vs MLMD"], rows,
                title=f"import of an MLMD store of {args.n:,} artifacts")
    write_results(args.name, {
        "machine": machine(), "n": args.n, "reference": reference, "ours": ours, "ours_kafka": kafka,
        "ratio": ratio(ours["rows_per_s"], reference["rows_per_s"]),
        "ratio_kafka": ratio(kafka["rows_per_s"], reference["rows_per_s"]),
    })


if __name__ == "__main__":
    main()
