"""The op-id filter behind the duplicate-op check: it must never miss an archived op id.

A miss would apply a repeated op a second time, so every id added (or found in
the archive) must be reported as possibly present, across segments, after a
restart (the filter rebuilt from the file), and for ops archived while the
filter was not consulted (the embedded log's fresh appends). Its hashes must
equal DuckDB's, which hashes the ids already stored.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
from hypothesis import given
from hypothesis import strategies as st
from projection import CollectingLog

from mlmd_log.producer.api import Producer
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.opfilter import OpIdFilter, op_hashes
from mlmd_log.projector.records import LogRecord
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings


@given(st.lists(st.text(min_size=0, max_size=60), min_size=1, max_size=40))
def test_hashes_equal_duckdbs_for_any_text(op_ids: list[str]) -> None:
    con = duckdb.connect()
    try:
        got = con.execute("SELECT list_transform(?::VARCHAR[], lambda x: md5_number_upper(x))", [op_ids]).fetchone()
        assert got is not None
        assert [int(h) for h in op_hashes(op_ids)] == got[0]
    finally:
        con.close()


def test_every_added_id_is_found_across_segments_and_most_others_are_not() -> None:
    added = [str(uuid.uuid4()) for _ in range(3000)]
    others = [str(uuid.uuid4()) for _ in range(3000)]
    id_filter = OpIdFilter(segment_ids=256)  # 3000 ids: 12 segments
    for start in range(0, len(added), 700):
        id_filter.add(op_hashes(added[start:start + 700]))
    assert id_filter.may_contain(op_hashes(added)).all()
    assert id_filter.nbytes == 12 * 256 * 2
    # 12 segments, ~0.24% each when full: far below 10% of new ids reach DuckDB.
    assert id_filter.may_contain(op_hashes(others)).mean() < 0.1


def _ops(count: int) -> list[LogRecord]:
    log = CollectingLog()
    producer = Producer(log, Settings(), clock_ms=lambda: 42)
    type_id = producer.put_artifact_type(mlmd.ArtifactType(name="Data"))
    for i in range(count):
        producer.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/d/{i}")])
    return log.records


def _artifacts(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM artifact_versions").fetchone()
    assert row is not None
    return int(row[0])


def test_a_repeat_of_an_op_archived_before_a_restart_is_a_duplicate(tmp_path: Path) -> None:
    records = _ops(300)
    path = str(tmp_path / "p.duckdb")
    con = duckdb.connect(path)
    Projector(con).project(records)
    con.close()
    con = duckdb.connect(path)  # a new process: the filter is read back from the archive
    try:
        assert OpIdFilter.load(con).may_contain(op_hashes(
            [r[0] for r in con.execute("SELECT op_id FROM op_archive WHERE op_id IS NOT NULL").fetchall()]
        )).all()
        before = _artifacts(con)
        end = records[-1].offset
        repeats = [LogRecord(end + 1 + i, 9_000, None, r.value) for i, r in enumerate(records[1::7])]
        report = Projector(con).project(repeats)
        assert [o.duplicate for o in report.outcomes] == [True] * len(repeats)
        assert _artifacts(con) == before
    finally:
        con.close()


def test_a_repeat_of_an_op_appended_as_fresh_is_a_duplicate() -> None:
    records = _ops(20)
    con = duckdb.connect()
    try:
        projector = Projector(con)
        projector.project(records[:10])  # checks op ids: the filter is loaded
        con.execute("BEGIN TRANSACTION")
        projector.apply(records[10:15], fresh_op_ids=True)  # the embedded log's appends skip the check
        con.execute("COMMIT")
        repeat = LogRecord(15, 9_000, None, records[12].value)
        report = projector.project([repeat, *records[16:]])
        assert report.outcomes[0].duplicate
        assert not any(o.duplicate for o in report.outcomes[1:])
        assert _artifacts(con) == 19
    finally:
        con.close()
