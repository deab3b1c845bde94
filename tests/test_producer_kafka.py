"""Producer delivery against a real broker: broker down, nothing lost on close, outcomes, identity."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import mlmd_log
from mlmd_log import errors
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_broker_fails_within_the_timeout_naming_the_servers() -> None:
    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(errors.BrokerUnavailableError, match=f"127.0.0.1:{port}"):
        mlmd_log.connect(f"kafka://127.0.0.1:{port}/t", settings=Settings(connect_timeout_s=2.0))
    assert time.monotonic() - started < 10


def test_every_op_acknowledged_before_close_is_projected(kafka_broker: Any, tmp_path: Path) -> None:
    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}")
    writer = mlmd_log.connect(url)  # write-only: returns ids without waiting for anyone
    type_id = writer.put_artifact_type(mlmd.ArtifactType(name="T"))
    ids = [i for n in range(50) for i in writer.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{n}/{k}") for k in range(20)])]
    writer.close()
    reader = mlmd_log.connect(url, db=str(tmp_path / "r.duckdb"))
    reader.sync(60)
    deadline = time.monotonic() + 60
    while len(reader.get_artifacts_by_id(ids)) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(reader.get_artifacts_by_id(ids)) == 1000
    reader.close()


def test_write_only_store_sync_confirms_delivery_and_refuses_reads(kafka_broker: Any) -> None:
    writer = mlmd_log.connect(kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}"))
    writer.put_artifact_type(mlmd.ArtifactType(name="T"))
    writer.sync(30)
    with pytest.raises(errors.InvalidArgumentError, match="write-only"):
        writer.get_artifact_types()
    writer.close()


def test_sync_raises_the_first_rejection_among_earlier_async_writes(kafka_broker: Any, tmp_path: Path) -> None:
    store = mlmd_log.connect(kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}"), db=str(tmp_path / "s.duckdb"))
    t = mlmd.ArtifactType(name="T")
    t.properties["n"] = mlmd.INT
    type_id = store.put_artifact_type(t)
    ok = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/ok")])
    bad = mlmd.Artifact(type_id=type_id)
    bad.properties["n"].string_value = "x"
    store.put_artifacts([bad])  # returns at once: the projector has not seen it yet
    with pytest.raises(errors.InvalidArgumentError, match="Found unmatched property type: n"):
        store.sync(30)
    assert [a.uri for a in store.get_artifacts_by_id(ok)] == ["/ok"]
    store.sync(30)  # the rejection was reported once; nothing pending now
    store.close()


def test_producer_identity_is_stamped_on_every_op(store_factory: Any) -> None:
    store = store_factory(team="ml-platform", service="trainer", user="ana")
    store.put_artifact_type(mlmd.ArtifactType(name="T"), wait=True)
    rows = store._con.execute('SELECT DISTINCT team, service, "user", host FROM op_archive').fetchall()
    assert rows == [("ml-platform", "trainer", "ana", socket.gethostname())]


def test_a_waiting_write_does_not_wait_out_the_linger(kafka_broker: Any, tmp_path: Path) -> None:
    """linger_ms lets ops that nobody waits for gather into batches; a caller waiting for its op skips it.

    With a 60 s linger, a write with ``wait=True`` (and a type registration, which always waits) must come
    back long before the linger would have let its batch go; a write nobody waits for still lingers.
    """
    settings = Settings(linger_ms=60_000, delivery_timeout_s=120.0)
    store = mlmd_log.connect(kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}"), db=str(tmp_path / "s.duckdb"),
                             settings=settings)
    try:
        started = time.monotonic()
        type_id = store.put_artifact_type(mlmd.ArtifactType(name="Data"))
        [artifact_id] = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/waited")], wait=True)
        assert time.monotonic() - started < 30, "a waiting write sat out linger_ms"
        assert [a.uri for a in store.get_artifacts_by_id([artifact_id])] == ["/waited"]
        [lingering] = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/not-waited")])
        time.sleep(1.0)
        assert store.get_artifacts_by_id([lingering]) == []  # still in the producer's batch, as asked
    finally:
        store.close(5)
