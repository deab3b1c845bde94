"""A projection opened the projector's way (attached with its row groups, used through cursors) still checkpoints.

DuckDB cannot checkpoint while any connection holds an open transaction, and a
query result left partly read on the connection that attached the file holds
one. Then the WAL and DuckDB's memory grow with every transaction (seen in the
ingest benchmark: a 234 MB WAL after 940k artifacts, and the projector's RSS
climbing with it) and a restart replays it all.
"""

from __future__ import annotations

from pathlib import Path

from projection import CollectingLog

from mlmd_log.producer.api import Producer
from mlmd_log.projector import catalog
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.pipeline import Pipeline
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
