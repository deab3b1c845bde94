"""Exactly-once under SIGKILL: a projector killed at random moments ends with exactly a clean run's tables."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

import mlmd_log
from mlmd_log.projector.ddl import PROJECTION_TABLES
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings

CRASH_ITERATIONS = int(os.environ.get("MLMD_LOG_CRASH_ITERATIONS", "20"))


def _workload(url: str, chunk: int, batches: int = 36) -> None:
    """Ops of every kind, some of them rejected, appended by a write-only store (one chunk of the log)."""
    store = mlmd_log.connect(url)
    dataset = mlmd.ArtifactType(name="DataSet")
    dataset.properties["day"] = mlmd.INT
    dataset_id = store.put_artifact_type(dataset)
    trainer_id = store.put_execution_type(mlmd.ExecutionType(name="Trainer"))
    run_id = store.put_context_type(mlmd.ContextType(name="Run"))
    rng = random.Random(chunk)
    for batch in range(chunk * batches, (chunk + 1) * batches):
        artifacts = []
        for i in range(20):
            a = mlmd.Artifact(type_id=dataset_id, uri=f"/d/{batch}/{i}")
            a.properties["day"].int_value = i
            artifacts.append(a)
        ids = store.put_artifacts(artifacts)
        update = mlmd.Artifact(id=ids[0], uri=f"/d/{batch}/updated")
        update.properties["day"].int_value = -batch
        store.put_artifacts([update])
        if batch % 7 == 3:
            bad = mlmd.Artifact(type_id=dataset_id)
            bad.properties["day"].string_value = "not an int"
            store.put_artifacts([bad])  # rejected by the projector
        store.put_execution(
            mlmd.Execution(type_id=trainer_id),
            [(mlmd.Artifact(id=rng.choice(ids), type_id=dataset_id, uri="/in"), mlmd.Event(type=mlmd.Event.INPUT))],
            [mlmd.Context(type_id=run_id, name=f"run-{batch % 5}")],
            reuse_context_if_already_exist=True,
        )
    store.sync(60)
    store.close()


def _project(url: str, db: Path, *, follow: bool, status: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MLMD_LOG_BATCH_MAX_OPS": "1", "MLMD_LOG_BATCH_MAX_MS": "20"}
    args = [sys.executable, "-m", "mlmd_log.cli", "project", "--log", url, "--db", str(db)]
    if status is not None:
        args += ["--status-file", str(status)]
    return subprocess.Popen([*args, "--follow"] if follow else args, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _await_first_batch(proc: subprocess.Popen[bytes], status: Path, before: int, timeout_s: float = 60.0) -> None:
    """Wait until the projector has applied a batch past ``before`` (its status file shows the committed
    position; the file may appear earlier, when the first poll comes back empty, as on Apache Kafka), however
    long Python's start-up takes on a loaded machine."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if json.loads(status.read_text())["position"] > before:
                return
        except (OSError, ValueError, KeyError):
            pass  # not written yet (it is replaced whole, never seen half-written)
        time.sleep(0.005)


def _log_end(bootstrap: str, topic: str) -> int:
    with KafkaLogReader(Settings(), [bootstrap], topic) as reader:
        return reader.end_offset()


def _checkpoint(db: Path) -> int:
    if not db.exists():
        return -1
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("SELECT position FROM checkpoint").fetchone()
        return int(row[0]) if row else -1
    finally:
        con.close()


def _tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in PROJECTION_TABLES}
    finally:
        con.close()


def test_projector_killed_at_random_points_ends_like_a_clean_run(kafka_broker: Any, tmp_path: Path) -> None:
    url = kafka_broker.url(f"t-crash-{uuid.uuid4().hex[:8]}")
    crashed = tmp_path / "crashed.duckdb"
    rng = random.Random(11)
    mid_work = 0
    for chunk in range(CRASH_ITERATIONS):
        # Every round brings new work (about 150 ops, one transaction each: longer to project than the kill
        # waits below, even on a fast idle machine), so kills land while ops are being applied.
        _workload(url, chunk)
        end = _log_end(kafka_broker.bootstrap, url.rsplit("/", 1)[1])
        before = _checkpoint(crashed)
        status = tmp_path / f"status-{chunk}.json"
        proc = _project(url, crashed, follow=True, status=status)
        _await_first_batch(proc, status, before)
        time.sleep(rng.uniform(0.0, 0.3))  # then a random point of the work that follows (a round is caught up quickly)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        after = _checkpoint(crashed)
        mid_work += before < after < end - 1  # killed after some ops were applied and before the last one
    finish = _project(url, crashed, follow=False)
    assert finish.wait(timeout=300) == 0, finish.stderr.read() if finish.stderr else ""
    clean = tmp_path / "clean.duckdb"
    done = _project(url, clean, follow=False)
    assert done.wait(timeout=300) == 0, done.stderr.read() if done.stderr else ""

    assert mid_work >= CRASH_ITERATIONS // 2, f"only {mid_work} kills landed while the projector was working"
    clean_tables, crashed_tables = _tables(clean), _tables(crashed)
    for table in PROJECTION_TABLES:
        assert crashed_tables[table] == clean_tables[table], f"{table} differs after {CRASH_ITERATIONS} SIGKILLs"
    print(f"{mid_work} of {CRASH_ITERATIONS} kills landed mid-work")
    assert len(clean_tables["artifact_versions"]) > 100 * CRASH_ITERATIONS
    assert len(clean_tables["rejections"]) > 0


@pytest.mark.heavy
def test_projector_survives_fifty_kills(kafka_broker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CRASH_ITERATIONS", 50)
    test_projector_killed_at_random_points_ends_like_a_clean_run(kafka_broker, tmp_path)
