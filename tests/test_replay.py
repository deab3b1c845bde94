"""`mlmd-log replay`: rebuild a projection from a Kafka topic (or an op archive) up to a position or a time.

The rebuilt file must equal the live projection *as it was at that position*:
every row written at or before it, with a ``valid_to`` after it read as NULL
(the test computes that itself, table by table, not through the code under test).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

import mlmd_log
from mlmd_log import errors
from mlmd_log.cli import main
from mlmd_log.projector.ddl import PROJECTION_TABLES
from mlmd_log.projector.replay import ArchiveSource
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.store import open_reader

#: Tables whose rows carry a log position, and the column that holds it.
_POSITION = {"op_archive": "position", "rejections": "position", "id_aliases": "valid_from"}


def _table_at(con: duckdb.DuckDBPyConnection, table: str, position: int | None) -> list[tuple[Any, ...]]:
    columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "proto"]
    where = ""
    if position is not None:
        column = _POSITION.get(table, "valid_from" if "valid_from" in columns else None)
        where = f" WHERE {column} <= {int(position)}" if column else ""
        columns = [f"CASE WHEN valid_to > {int(position)} THEN NULL ELSE valid_to END" if c == "valid_to" else c
                   for c in columns]
    return con.execute(f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY ALL").fetchall()


def _assert_equal_at(live: Path, rebuilt: Path, position: int) -> None:
    a = duckdb.connect(str(live), read_only=True)
    b = duckdb.connect(str(rebuilt), read_only=True)
    try:
        assert b.execute("SELECT position FROM checkpoint").fetchone() == (position,)
        for table in PROJECTION_TABLES:
            assert _table_at(b, table, None) == _table_at(a, table, position), table
    finally:
        a.close()
        b.close()


@pytest.fixture
def history(kafka_broker: Any, tmp_path: Path) -> dict[str, Any]:
    """A topic with two phases of writes (the second updates rows of the first) and a rejected op.

    ``middle`` is the last position of phase one; every record of phase two is at least 50 ms later.
    """
    url = kafka_broker.url(f"t-replay-{uuid.uuid4().hex[:10]}")
    live_db = tmp_path / "live.duckdb"
    store = mlmd_log.connect(url, db=str(live_db))
    t = mlmd.ArtifactType(name="Data")
    t.properties["day"] = mlmd.INT
    type_id = store.put_artifact_type(t)
    run_type = store.put_execution_type(mlmd.ExecutionType(name="Run"))
    artifacts = []
    for day in range(5):
        a = mlmd.Artifact(type_id=type_id, uri=f"/d/{day}")
        a.properties["day"].int_value = day
        artifacts.append(a)
    ids = store.put_artifacts(artifacts)
    store.put_execution(mlmd.Execution(type_id=run_type, last_known_state=mlmd.Execution.RUNNING),
                        [(mlmd.Artifact(id=ids[0], type_id=type_id, uri="/d/0"), mlmd.Event(type=mlmd.Event.INPUT))],
                        [])
    store.sync(30)
    middle = store.log_position()
    time.sleep(0.1)
    for i in ids[:3]:
        [a] = store.get_artifacts_by_id([i])
        a.uri += "-v2"
        a.custom_properties["checked"].bool_value = True
        store.put_artifacts([a])
    bad = mlmd.Artifact(type_id=type_id)
    bad.properties["day"].string_value = "not an int"
    store.put_artifacts([bad])
    with pytest.raises(errors.InvalidArgumentError):
        store.sync(30)
    end = store.log_position()
    store.close()
    reader = open_reader(str(live_db))
    row = reader.con.execute("SELECT log_time_ms FROM op_archive WHERE position = ?", [middle]).fetchone()
    assert row is not None
    reader.con.close()
    return {"url": url, "live": live_db, "middle": middle, "end": end, "middle_time_ms": row[0]}


def test_replay_from_kafka_to_a_position_equals_the_live_projection_then(
    history: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "at-middle.duckdb"
    argv = ["replay", "--from", history["url"], "--to", str(new), "--up-to", str(history["middle"]),
            "--db", str(history["live"]), "--verify"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"replayed {history['middle'] + 1:,} ops" in err and "verified" in err
    _assert_equal_at(history["live"], new, history["middle"])
    # What a user reads from the rebuilt file is what the live store read as of that position.
    rebuilt, live = open_reader(str(new)), open_reader(str(history["live"]))
    assert rebuilt.get_artifacts() == live.get_artifacts(as_of=history["middle"])
    assert rebuilt.get_executions() == live.get_executions(as_of=history["middle"])
    rebuilt.con.close()
    live.con.close()


def test_replay_from_kafka_to_the_end_equals_the_live_projection(history: dict[str, Any], tmp_path: Path) -> None:
    new = tmp_path / "all.duckdb"
    assert main(["replay", "--from", history["url"], "--to", str(new), "--db", str(history["live"]), "--verify"]) == 0
    _assert_equal_at(history["live"], new, history["end"])


def test_replay_from_kafka_to_a_time_stops_at_the_last_op_logged_by_then(
    history: dict[str, Any], tmp_path: Path
) -> None:
    when = datetime.fromtimestamp(history["middle_time_ms"] / 1000, UTC)
    new = tmp_path / "at-time.duckdb"
    assert main(["replay", "--from", history["url"], "--to", str(new), "--up-to-time", when.isoformat(),
                 "--db", str(history["live"]), "--verify"]) == 0
    _assert_equal_at(history["live"], new, history["middle"])
    rebuilt, live = open_reader(str(new)), open_reader(str(history["live"]))
    assert rebuilt.get_artifacts() == live.get_artifacts(as_of=when)
    rebuilt.con.close()
    live.con.close()


def test_replay_from_the_op_archive_to_a_time_matches_kafka(history: dict[str, Any], tmp_path: Path) -> None:
    when = datetime.fromtimestamp(history["middle_time_ms"] / 1000, UTC).isoformat()
    new = tmp_path / "archive-at-time.duckdb"
    assert main(["replay", "--db", str(history["live"]), "--to", str(new), "--up-to-time", when, "--verify"]) == 0
    _assert_equal_at(history["live"], new, history["middle"])


def test_verify_fails_when_the_projection_differs(history: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    tampered = tmp_path / "tampered.duckdb"
    tampered.write_bytes(history["live"].read_bytes())
    con = duckdb.connect(str(tampered))
    con.execute("UPDATE artifact_versions SET uri = 'changed behind the log' WHERE valid_from <= ?",
                [history["middle"]])
    con.close()
    new = tmp_path / "rebuilt.duckdb"
    code = main(["replay", "--from", history["url"], "--to", str(new), "--up-to", str(history["middle"]),
                 "--db", str(tampered), "--verify"])
    assert code == 1
    err = capsys.readouterr().err
    assert "DataLossError" in err and "artifact_versions" in err
    assert new.exists()  # kept for inspection


def test_replay_refuses_positions_past_the_log_and_naive_times(history: dict[str, Any], tmp_path: Path,
                                                              capsys: Any) -> None:
    new = tmp_path / "never.duckdb"
    assert main(["replay", "--from", history["url"], "--to", str(new), "--up-to", str(history["end"] + 10)]) == 1
    assert "OutOfRangeError" in capsys.readouterr().err
    assert not new.exists()  # a replay that fails removes the file it started
    assert main(["replay", "--from", history["url"], "--to", str(new), "--up-to-time", "2026-01-01T00:00:00"]) == 1
    assert "timezone" in capsys.readouterr().err
    assert not new.exists()


def test_replay_reads_the_kafka_log_named_by_log_when_no_file_is_given(history: dict[str, Any], tmp_path: Path) -> None:
    new = tmp_path / "from-log.duckdb"
    assert main(["replay", "--log", history["url"], "--to", str(new), "--up-to", str(history["middle"])]) == 0
    _assert_equal_at(history["live"], new, history["middle"])


def test_an_archive_with_gaps_in_its_positions_is_read_whole_and_in_order() -> None:
    """Records are read in windows of consecutive positions; offsets a broker skipped must not lose any."""
    con = duckdb.connect()
    con.execute("CREATE TABLE op_archive (position BIGINT, record_time_ms BIGINT, bytes BLOB)")
    positions = [*range(0, 10), *range(15, 31), 100, 101, 250]
    con.executemany("INSERT INTO op_archive VALUES (?, ?, ?)", [(p, 1_000 + p, b"op%d" % p) for p in positions])
    source = ArchiveSource(con)
    source.seek(3)
    seen: list[int] = []
    while batch := source.poll_batch(5, 0):
        assert len(batch) <= 5
        seen += [r.offset for r in batch]
        assert all(r.value == b"op%d" % r.offset and r.timestamp_ms == 1_000 + r.offset for r in batch)
    assert seen == [p for p in positions if p >= 3]


def test_a_replayed_file_has_small_row_groups_and_opens_like_any_projection(tmp_path: Path) -> None:
    """`mlmd-log replay` writes row groups of ROW_GROUP_SIZE rows (its bulk checkpoints stay cheap); the
    file it leaves is a plain projection: equal to the live one, readable by a plain connection."""
    from mlmd_log.projector.catalog import ROW_GROUP_SIZE

    live = tmp_path / "live.duckdb"
    with mlmd_log.connect(f"duckdb:///{live}") as store:
        type_id = store.put_artifact_type(mlmd.ArtifactType(name="Data"))
        for start in range(0, 40_000, 1_000):
            store.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"u{i}") for i in range(start, start + 1_000)])
    new = tmp_path / "new.duckdb"
    assert main(["replay", "--db", str(live), "--to", str(new), "--verify"]) == 0
    con = duckdb.connect(str(new), read_only=True)
    try:
        sizes = [n for (n,) in con.execute(
            "SELECT sum(count) FROM pragma_storage_info('artifact_versions') WHERE column_name = 'id' AND segment_type <> 'VALIDITY' "
            "GROUP BY row_group_id"
        ).fetchall()]
        assert sum(sizes) == 40_000 and len(sizes) >= 40_000 // ROW_GROUP_SIZE and max(sizes) <= ROW_GROUP_SIZE
    finally:
        con.close()
    reader = open_reader(str(new))
    try:
        assert len(reader.get_artifacts_by_type("Data")) == 40_000
    finally:
        reader.con.close()
