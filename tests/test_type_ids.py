"""Type ids follow creation order, as MLMD assigns them, on every backend and on replay (ADR 0001)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

import mlmd_log
from mlmd_log.errors import AlreadyExistsError
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.records import LogRecord
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.proto import metadata_store_service_pb2 as svc
from mlmd_log.schemas.v1 import ops_pb2


def test_types_are_numbered_in_creation_order_and_a_reput_returns_the_id(store: Any) -> None:
    first = store.put_artifact_type(mlmd.ArtifactType(name="A1"))
    second = store.put_execution_type(mlmd.ExecutionType(name="E1"))
    third = store.put_context_type(mlmd.ContextType(name="C1"))
    assert 10 <= first < second < third
    request = svc.PutTypesRequest(
        artifact_types=[mlmd.ArtifactType(name="A2"), mlmd.ArtifactType(name="A1")],
        context_types=[mlmd.ContextType(name="C2")],
    )
    response = store.put_types(request)
    a2, a1_again = response.artifact_type_ids
    assert a1_again == first and third < a2 < response.context_type_ids[0]
    assert store.put_artifact_type(mlmd.ArtifactType(name="A1")) == first
    # A versioned type is another type, with the next id.
    assert store.put_artifact_type(mlmd.ArtifactType(name="A1", version="v2")) > response.context_type_ids[0]
    assert [t.name for t in store.get_artifact_types()] == ["A1", "A2", "A1"]


def test_a_rejected_type_takes_no_id(store: Any) -> None:
    base = mlmd.ArtifactType(name="T")
    base.properties["p"] = mlmd.INT
    type_id = store.put_artifact_type(base)
    clash = mlmd.ArtifactType(name="T")
    clash.properties["p"] = mlmd.STRING
    with pytest.raises(AlreadyExistsError):
        store.put_artifact_type(clash)
    assert store.put_artifact_type(mlmd.ArtifactType(name="U")) == type_id + 1


def test_a_write_only_store_learns_type_ids_from_the_log(kafka_broker: Any, tmp_path: Path) -> None:
    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:12]}")
    reader = mlmd_log.connect(url, db=str(tmp_path / "r.duckdb"))
    writer = mlmd_log.connect(url)
    try:
        first = reader.put_artifact_type(mlmd.ArtifactType(name="First"))
        assert writer.put_artifact_type(mlmd.ArtifactType(name="First")) == first
        second = writer.put_artifact_type(mlmd.ArtifactType(name="Second"))
        assert second == first + 1
        assert reader.put_artifact_type(mlmd.ArtifactType(name="Second")) == second
    finally:
        writer.close()
        reader.close()


def _type_op(position: int, name: str, explicit: int | None) -> LogRecord:
    op = ops_pb2.Operation(op_id=f"op-{position}", schema_version=1)
    op.put_artifact_type.artifact_type.name = name
    if explicit is not None:
        op.assigned_ids.type_ids.append(explicit)
    return LogRecord(position, 1_000 + position, None, op.SerializeToString())


def test_explicit_type_ids_are_kept_and_new_ids_continue_above_them() -> None:
    con = duckdb.connect()
    report = Projector(con).project([
        _type_op(0, "Imported", 500), _type_op(1, "New", None), _type_op(2, "Imported", 7_000),
        _type_op(3, "Clash", 501),
    ])
    assert [o.error is None for o in report.outcomes] == [True, True, False, False]
    assert isinstance(report.outcomes[2].error, AlreadyExistsError)
    assert isinstance(report.outcomes[3].error, AlreadyExistsError)
    rows = con.execute("SELECT name, id FROM type_versions WHERE id >= 10 ORDER BY id").fetchall()
    assert rows == [("Imported", 500), ("New", 501)]


def test_concurrent_registrations_agree_and_number_densely(store: Any) -> None:
    import threading

    got: dict[int, tuple[int, int]] = {}

    def register(n: int) -> None:
        shared = store.put_context_type(mlmd.ContextType(name="Shared"))
        own = store.put_context_type(mlmd.ContextType(name=f"Own{n}"))
        got[n] = (shared, own)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 8
    assert len({shared for shared, _ in got.values()}) == 1  # everyone got the one id of the one type
    ids = sorted({shared for shared, _ in got.values()} | {own for _, own in got.values()})
    assert ids == list(range(ids[0], ids[0] + 9))  # nine types, numbered without a gap
    assert [t.id for t in store.get_context_types()] == ids
