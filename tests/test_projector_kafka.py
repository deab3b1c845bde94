"""The projector over a real broker: poison messages, restart without loss or duplication, log regression."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import mlmd_log
from mlmd_log import errors
from mlmd_log.producer.transport import KafkaLogWriter
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings


def _rows(store: Any, sql: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = store._con.execute(sql).fetchall()
    return rows


def _fill(store: Any) -> list[int]:
    type_id = store.put_artifact_type(mlmd.ArtifactType(name="T"))
    ids: list[int] = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}") for i in range(20)])
    store.sync(30)
    return ids


def test_poison_bytes_become_a_rejection_and_projection_goes_on(kafka_broker: Any, tmp_path: Path) -> None:
    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}")
    store = mlmd_log.connect(url, db=str(tmp_path / "p.duckdb"))
    with KafkaLogWriter(Settings(), [kafka_broker.bootstrap], url.rsplit("/", 1)[1]) as raw:
        raw.send(b"\x08\xff\xff not an op").position(30)
    ids = _fill(store)
    assert len(store.get_artifacts_by_id(ids)) == 20
    assert _rows(store, "SELECT error_class FROM rejections") == [("DataLossError",)]
    store.close()


def test_restart_resumes_after_the_checkpoint_without_duplicates(kafka_broker: Any, tmp_path: Path) -> None:
    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}")
    db = str(tmp_path / "r.duckdb")
    store = mlmd_log.connect(url, db=db)
    ids = _fill(store)
    before = _rows(store, "SELECT * FROM artifact_versions ORDER BY ALL")
    store.close()
    store = mlmd_log.connect(url, db=db)
    more = store.put_artifacts([mlmd.Artifact(type_id=store.get_artifact_type("T").id, uri="/late")])
    store.sync(30)
    after = _rows(store, "SELECT * FROM artifact_versions ORDER BY ALL")
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert [a.uri for a in store.get_artifacts_by_id(ids + more)][-1] == "/late"
    assert _rows(store, "SELECT count(*), count(DISTINCT position) FROM op_archive")[0][0] == \
        _rows(store, "SELECT count(DISTINCT position) FROM op_archive")[0][0]
    store.close()


def test_a_log_shorter_than_the_checkpoint_stops_with_a_clear_error(kafka_broker: Any, tmp_path: Path) -> None:
    db = str(tmp_path / "g.duckdb")
    store = mlmd_log.connect(kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}"), db=db)
    _fill(store)
    store.close()
    snapshot = Path(db).read_bytes()
    with pytest.raises(errors.LogRegressionError, match="log now ends before it"):
        mlmd_log.connect(kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}"), db=db)
    assert Path(db).read_bytes() == snapshot


def _all_tables(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    from mlmd_log.projector.ddl import PROJECTION_TABLES

    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in PROJECTION_TABLES}


def test_live_projection_equals_replays_from_kafka_and_from_the_archive(kafka_broker: Any, tmp_path: Path) -> None:
    import duckdb

    from mlmd_log.projector.loop import ProjectorLoop
    from mlmd_log.projector.replay import replay_archive
    from mlmd_log.projector.transport import KafkaLogReader

    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}")
    topic = url.rsplit("/", 1)[1]
    live = mlmd_log.connect(url, db=str(tmp_path / "live.duckdb"))
    ids = _fill(live)
    update = mlmd.Artifact(id=ids[3], uri="/changed")
    live.put_artifacts([update])
    bad = mlmd.Artifact(id=10**12)
    live.put_artifacts([bad])
    with pytest.raises(errors.InvalidArgumentError):
        live.sync(30)
    expected = _all_tables(live._con)
    live.close()

    from_kafka = duckdb.connect(str(tmp_path / "kafka.duckdb"))
    loop = ProjectorLoop(from_kafka, KafkaLogReader(Settings(), [kafka_broker.bootstrap], topic), Settings())
    loop.run(until_caught_up=True)
    loop.stop()
    assert _all_tables(from_kafka) == expected

    from_archive = duckdb.connect(str(tmp_path / "archive.duckdb"))
    source = duckdb.connect(str(tmp_path / "live.duckdb"), read_only=True)
    assert replay_archive(source, from_archive) == len(expected["op_archive"])
    assert _all_tables(from_archive) == expected


def test_project_command_reports_lag_and_stops_cleanly_on_sigterm(kafka_broker: Any, tmp_path: Path) -> None:
    import json
    import signal
    import subprocess
    import sys
    import time

    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}")
    writer = mlmd_log.connect(url)
    _fill(writer)
    writer.close()
    status = tmp_path / "status.json"
    db = tmp_path / "p.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlmd_log.cli", "project", "--follow", "--log", url, "--db", str(db),
         "--status-file", str(status)],
        stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not status.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    report = json.loads(status.read_text())
    assert report["lag"] == 0 and report["position"] >= 2 and report["ops_per_s"] > 0
    assert "checkpoint at position" in (proc.stderr.read() if proc.stderr else "")


def test_mlmd_log_project_writes_small_row_groups_that_any_connection_reads(kafka_broker: Any, tmp_path: Path) -> None:
    """`mlmd-log project` attaches its file with the projector's row-group size (cheap checkpoints); the file
    stays an ordinary projection: a store opened on it later reads every artifact and appends to it."""
    import duckdb

    from mlmd_log.cli import main
    from mlmd_log.projector.catalog import ROW_GROUP_SIZE

    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}")
    writer = mlmd_log.connect(url)  # write-only
    type_id = writer.put_artifact_type(mlmd.ArtifactType(name="T"))
    for start in range(0, 40_000, 2_000):
        writer.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}") for i in range(start, start + 2_000)])
    writer.sync(60)
    writer.close()
    db = tmp_path / "projected.duckdb"
    assert main(["project", "--log", url, "--db", str(db)]) == 0
    con = duckdb.connect(str(db), read_only=True)
    sizes = [n for (n,) in con.execute(
        "SELECT sum(count) FROM pragma_storage_info('artifact_versions') WHERE column_name = 'id' "
        "AND segment_type <> 'VALIDITY' GROUP BY row_group_id"
    ).fetchall()]
    con.close()
    assert sum(sizes) == 40_000 and max(sizes) <= ROW_GROUP_SIZE
    store = mlmd_log.connect(url, db=str(db))
    try:
        store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/late")])
        store.sync(30)
        assert len(store.get_artifacts_by_type("T")) == 40_001
    finally:
        store.close()
