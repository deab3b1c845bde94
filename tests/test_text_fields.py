"""An op with a string field that is not UTF-8 is rejected as undecodable; the batch around it is projected.

MLMD's messages are proto2, whose parser does not validate ``string`` fields:
bytes that are not UTF-8 come out as ``bytes``, which would crash the whole
batch where they meet text (an Arrow string column). A producer in another
language, or a corrupted record, can write such bytes; the projector must
reject that op alone (DataLossError, naming the field) and change nothing else,
synchronously and pipelined, also when the batch registered a type before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from projection import CollectingLog

from mlmd_log.producer.api import Producer
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.pipeline import Pipeline
from mlmd_log.projector.records import LogRecord
from mlmd_log.projector.verify import differing_tables
from mlmd_log.projector.writer import WritePlan
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.v1 import ops_pb2
from mlmd_log.settings import Settings

#: Written by the bad op's producer in the field under test; replaced in the record by bytes that are not UTF-8.
MARK = "MARK"
NOT_UTF8 = b"\xff\xfeMK"  # the same length, so no length prefix changes


def _bad_ops() -> dict[str, tuple[Callable[[Producer, int], object], str]]:
    """Case -> (an op writing MARK into one string field, the field's path in the op)."""

    def event(p: Producer, t: int) -> object:
        (a,) = p.put_artifacts([mlmd.Artifact(type_id=t)])
        e = p.put_executions([mlmd.Execution(type_id=p.put_execution_type(mlmd.ExecutionType(name="Run")))])[0]
        path = mlmd.Event.Path(steps=[mlmd.Event.Path.Step(key=MARK)])
        p.put_events([mlmd.Event(artifact_id=a, execution_id=e, type=mlmd.Event.INPUT, path=path)])
        return None

    return {
        "uri": (lambda p, t: p.put_artifacts([mlmd.Artifact(type_id=t, uri=MARK)]), "put_artifacts.artifacts[0].uri"),
        "name": (lambda p, t: p.put_artifacts([mlmd.Artifact(type_id=t, name=MARK)]), "put_artifacts.artifacts[0].name"),
        "property": (
            lambda p, t: p.put_artifacts([mlmd.Artifact(type_id=t, properties={"s": mlmd.Value(string_value=MARK)})]),
            "put_artifacts.artifacts[0].properties['s'].string_value",
        ),
        "custom key": (
            lambda p, t: p.put_artifacts([mlmd.Artifact(type_id=t, custom_properties={MARK: mlmd.Value(int_value=1)})]),
            "put_artifacts.artifacts[0].custom_properties key",
        ),
        "context name": (
            lambda p, t: p.put_contexts(
                [mlmd.Context(type_id=p.put_context_type(mlmd.ContextType(name="C")), name=MARK)]
            ),
            "put_contexts.contexts[0].name",
        ),
        "type name": (lambda p, t: p.put_artifact_type(mlmd.ArtifactType(name=MARK)), "put_artifact_type.artifact_type.name"),
        "type property": (
            lambda p, t: p.put_artifact_type(mlmd.ArtifactType(name="T3", properties={MARK: mlmd.INT})),
            "put_artifact_type.artifact_type.properties key",
        ),
        "event path": (event, "put_events.events[0].path.steps[0].key"),
        "producer": (lambda p, t: p.put_artifacts([mlmd.Artifact(type_id=t, uri="x")]), "producer.team"),
    }


def _log(case: str) -> tuple[list[LogRecord], int]:
    """A type, then one batch's worth: a new type, the bad op (and what it needs), artifacts of the new type."""
    log = CollectingLog()
    p = Producer(log, Settings(), clock_ms=lambda: 42)
    at = mlmd.ArtifactType(name="Data")
    at.properties["s"] = mlmd.STRING
    data = p.put_artifact_type(at)
    fresh = p.put_artifact_type(mlmd.ArtifactType(name="Fresh"))  # registered in the batch that fails first
    _bad_ops()[case][0](p, data)
    if case == "producer":  # the producer identity of the op just written
        op = ops_pb2.Operation.FromString(log.records[-1].value)
        op.producer.team = MARK
        last = log.records[-1]
        log.records[-1] = LogRecord(last.offset, last.timestamp_ms, last.key, op.SerializeToString())
    p.put_artifacts([mlmd.Artifact(type_id=fresh, uri="after"), mlmd.Artifact(type_id=data, name="kept")])
    records = list(log.records)
    (bad,) = [i for i, r in enumerate(records) if MARK.encode() in r.value]
    r = records[bad]
    records[bad] = LogRecord(r.offset, r.timestamp_ms, r.key, r.value.replace(MARK.encode(), NOT_UTF8))
    return records, bad


def _check(con: duckdb.DuckDBPyConnection, records: list[LogRecord], bad: int, path: str) -> None:
    rejected = con.execute("SELECT position, error_class, message FROM rejections").fetchall()
    assert [(pos, cls) for pos, cls, _ in rejected] == [(records[bad].offset, "DataLossError")]
    assert rejected[0][2].startswith("undecodable op") and rejected[0][2].endswith(f"{path} is not valid UTF-8")
    applied = con.execute("SELECT count(*) FROM op_archive WHERE outcome = 'applied'").fetchone()
    assert applied == (len(records) - 1,)
    # Everything but the bad op is projected: the same tables as a log whose bad op is plain garbage.
    reference = duckdb.connect()
    garbage = [r if i != bad else LogRecord(r.offset, r.timestamp_ms, r.key, b"\xff") for i, r in enumerate(records)]
    Projector(reference).project(garbage)
    assert set(differing_tables(reference, con, records[-1].offset)) <= {"op_archive", "rejections"}
    assert con.execute("SELECT uri FROM artifacts WHERE uri = 'after'").fetchall() == [("after",)]


@pytest.mark.parametrize("case", sorted(_bad_ops()))
def test_a_string_field_that_is_not_utf8_rejects_its_op_alone(case: str) -> None:
    records, bad = _log(case)
    con = duckdb.connect()
    report = Projector(con).project(records)
    errors = [o.error for o in report.outcomes if o.error is not None]
    assert [type(e).__name__ for e in errors] == ["DataLossError"]
    _check(con, records, bad, _bad_ops()[case][1])


@pytest.mark.parametrize("case", ["uri", "type name", "event path", "producer"])
def test_pipelined_batches_reject_it_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    records, bad = _log(case)
    original = WritePlan.run

    def late(plan: WritePlan, con: duckdb.DuckDBPyConnection) -> None:
        time.sleep(0.01)  # the bad batch is prepared while the one before it is still being stored
        original(plan, con)

    monkeypatch.setattr(WritePlan, "run", late)
    con = duckdb.connect(str(tmp_path / "piped.duckdb"))
    pipeline = Pipeline(Projector(con), depth=2)
    first = max(1, bad - 1)  # the new type and the bad op share the second batch
    pipeline.submit(records[:first])
    pipeline.submit(records[first:])
    pipeline.close()
    _check(con, records, bad, _bad_ops()[case][1])
    con.close()
