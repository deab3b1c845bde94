"""The projector's DuckDB housekeeping: its files checkpoint, and a dedicated projector's cache stays small.

DuckDB cannot checkpoint while any connection holds an open transaction, and a
query result left partly read on the connection that attached the file holds
one. Then the WAL and DuckDB's memory grow with every transaction (a WAL of
hundreds of MB after 1M artifacts, and the projector's RSS climbing with it)
and a restart replays it all.

DuckDB also keeps every block it writes cached up to its memory limit, so a
projector's RSS grows with the file unless the pipeline trims that cache.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from projection import CollectingLog

from mlmd_log.producer.api import Producer
from mlmd_log.projector import catalog
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.pipeline import Pipeline
from mlmd_log.projector.records import LogRecord
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings


def _log(artifacts: int) -> CollectingLog:
    log = CollectingLog()
    p = Producer(log, Settings(), clock_ms=lambda: 42)
    t = mlmd.ArtifactType(name="Data")
    t.properties["n"] = mlmd.INT
    type_id = p.put_artifact_type(t)
    for start in range(0, artifacts, 100):
        batch = []
        for i in range(start, start + 100):
            a = mlmd.Artifact(type_id=type_id, uri=f"/data/{i}/" + "x" * 40)
            a.properties["n"].int_value = i
            batch.append(a)
        p.put_artifacts(batch)
    return log


def test_a_cursor_of_the_attached_file_leaves_it_checkpointable(tmp_path: Path) -> None:
    con = catalog.attach(str(tmp_path / "p.duckdb"), read_only=False, row_group_size=catalog.ROW_GROUP_SIZE)
    cur = catalog.cursor(con)
    projector = Projector(cur)
    projector.project(_log(200).records)
    cur.execute("CHECKPOINT")  # raised "there are other write transactions active" when the parent held one
    assert cur.execute("SELECT count(*) FROM artifacts").fetchone() == (200,)
    con.close()


def test_a_pipelined_projection_through_cursors_keeps_its_wal_small(tmp_path: Path) -> None:
    path = tmp_path / "p.duckdb"
    con = catalog.attach(str(path), read_only=False, row_group_size=catalog.ROW_GROUP_SIZE)
    con.execute("SET checkpoint_threshold = '256KiB'")  # DuckDB's automatic checkpoint: at commit, past this
    records = _log(6_000).records
    pipeline = Pipeline(Projector(catalog.cursor(con)))  # as the benchmark's projector process opens it
    for start in range(0, len(records), 4):
        pipeline.submit(records[start : start + 4])
    pipeline.close()
    wal = path.with_name(path.name + ".wal")
    # ~2 MB of WAL were written; automatic checkpoints keep it near the threshold.
    assert not wal.exists() or wal.stat().st_size < 1_048_576
    assert con.execute("SELECT count(*) FROM artifacts").fetchone() == (6_000,)
    con.close()


def _project_through_pipeline(
    path: Path, records: list[LogRecord], cache_mb: int
) -> tuple[duckdb.DuckDBPyConnection, Pipeline]:
    con = catalog.attach(str(path), read_only=False, row_group_size=catalog.ROW_GROUP_SIZE)
    con.execute("SET memory_limit = '256MiB'")
    pipeline = Pipeline(Projector(con), cache_mb=cache_mb)
    for start in range(0, len(records), 20):
        pipeline.submit(records[start : start + 20])
    pipeline.flush()
    pipeline.submit([])  # the next poll: a trim that the last commit made due runs first
    pipeline.close()
    return con, pipeline


def _duckdb_bytes(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0])


def test_a_dedicated_projector_keeps_duckdbs_cache_near_its_bound(tmp_path: Path) -> None:
    records = _log(30_000).records
    kept, _ = _project_through_pipeline(tmp_path / "a.duckdb", records, 0)
    trimmed, pipeline = _project_through_pipeline(tmp_path / "b.duckdb", records, 4)
    assert pipeline.trims > 0
    assert _duckdb_bytes(kept) > 8 * 2**20  # DuckDB's cache of the blocks it wrote (~16 MB here)
    assert _duckdb_bytes(trimmed) <= 4 * 2**20
    # The limit a transaction may use is back, and the projection is whole.
    assert trimmed.execute("SELECT current_setting('memory_limit')").fetchall() == [("256.0 MiB",)]
    assert trimmed.execute("SELECT count(*) FROM artifacts").fetchone() == (30_000,)
    kept.close()
    trimmed.close()


def test_a_trim_gives_back_duckdbs_default_limit_when_none_was_set(tmp_path: Path) -> None:
    """DuckDB shows its default (80% of RAM) rounded, so the limit is restored by name, not by what it showed."""
    con = catalog.attach(str(tmp_path / "p.duckdb"), read_only=False, row_group_size=catalog.ROW_GROUP_SIZE)
    default = con.execute("SELECT current_setting('memory_limit')").fetchall()
    pipeline = Pipeline(Projector(con), cache_mb=1, memory_limit_mb=0)
    records = _log(10_000).records
    for start in range(0, len(records), 20):
        pipeline.submit(records[start : start + 20])
    pipeline.flush()
    pipeline.submit([])
    pipeline.close()
    assert pipeline.trims > 0
    assert con.execute("SELECT current_setting('memory_limit')").fetchall() == default
    con.close()
