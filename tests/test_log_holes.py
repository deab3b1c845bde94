"""Holes in the log's offsets, on a real broker: the reader never skips records that are only late.

tansu gives a produced batch its offsets before it stores the batch, and a fetch
answers the batches stored from the offset asked for: with two producers
writing, a fetch can return the batch after one still being stored. A reader
that took that answer moved past the missing batch for good (the likely cause
of a 10-op batch missing from one CI soak). :class:`Hiding` reproduces that answer on the real broker's
records: it wraps the reader's kafka-python consumer and leaves a range of
offsets out of the first polls that reach them, as tansu does for a moment;
everything else is the broker's. A hole that stays is made for real, with a
transaction marker (the broker gives it an offset that no consumer sees).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from broker import Broker
from kafka import KafkaProducer

import mlmd_log
from mlmd_log.producer.transport import KafkaLogWriter
from mlmd_log.projector.loop import ProjectorLoop
from mlmd_log.projector.records import LogRecord
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings

SETTINGS = Settings(connect_timeout_s=5.0, delivery_timeout_s=10.0, log_gap_wait_ms=300)


class Hiding:
    """The reader's consumer, except that ``hidden`` offsets are left out of the first ``times`` polls reaching them."""

    def __init__(self, real: Any, hidden: range, times: int) -> None:
        self.real = real
        self.hidden = hidden
        self.times = times
        self.hid = 0  # polls that left records out

    def poll(self, **kwargs: Any) -> dict[Any, list[Any]]:
        polled: dict[Any, list[Any]] = self.real.poll(**kwargs)
        if self.hid >= self.times:
            return polled
        out = {}
        for tp, records in polled.items():
            kept = [r for r in records if r.offset not in self.hidden]
            if len(kept) < len(records):
                self.hid += 1
            out[tp] = kept
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def hide(reader: KafkaLogReader, hidden: range, times: int) -> Hiding:
    """Hide records as tansu does, and have the reader treat the broker as tansu (offsets before storage)."""
    stream = Hiding(reader._connect_stream(), hidden, times)
    reader._exact = False
    reader._stream = stream
    return stream


def read_until(reader: KafkaLogReader, last: int, timeout_s: float = 15.0) -> list[LogRecord]:
    records: list[LogRecord] = []
    deadline = time.monotonic() + timeout_s
    while (not records or records[-1].offset < last) and time.monotonic() < deadline:
        records += reader.poll_batch(max_records=500, timeout_ms=100)
    return records


@pytest.fixture
def written(kafka_broker: Broker, topic: str) -> Iterator[str]:
    """``topic`` holding 30 records (offsets 0-29), written as three batches of ten."""
    with KafkaLogWriter(SETTINGS, [kafka_broker.bootstrap], topic) as w:
        w.ensure_topic()
        for batch in range(3):
            for i in range(10):
                w.send(b"r%d" % (batch * 10 + i))
            w.flush()
    yield topic


@pytest.fixture
def reader(kafka_broker: Broker, written: str) -> Iterator[KafkaLogReader]:
    r = KafkaLogReader(SETTINGS, [kafka_broker.bootstrap], written)
    yield r
    r.close()


def test_a_late_batch_at_the_position_is_waited_for(reader: KafkaLogReader) -> None:
    reader.seek(10)
    stream = hide(reader, range(10, 20), times=3)  # the fetch from 10 answers 20-29 three times over
    records = read_until(reader, 29)
    assert stream.hid == 3
    assert [r.offset for r in records] == list(range(10, 30))
    assert [r.value for r in records] == [b"r%d" % i for i in range(10, 30)]
    assert reader.skipped == 0 and reader.position == 30


def test_a_late_batch_inside_a_poll_is_waited_for(reader: KafkaLogReader) -> None:
    stream = hide(reader, range(10, 20), times=2)  # 0-9 and 20-29 arrive first
    records = read_until(reader, 29)
    assert stream.hid == 2
    assert [r.offset for r in records] == list(range(30))
    assert reader.skipped == 0


def test_a_hole_that_stays_is_passed_after_the_wait_with_a_warning(
    reader: KafkaLogReader, caplog: pytest.LogCaptureFixture
) -> None:
    hide(reader, range(12, 15), times=10**9)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mlmd_log.projector.transport"):
        records = read_until(reader, 29)
    assert [r.offset for r in records] == [*range(12), *range(15, 30)]
    assert time.monotonic() - started >= SETTINGS.log_gap_wait_ms / 1000
    assert reader.skipped == 3
    assert "no records at offsets 12..14" in caplog.text


def test_a_transaction_marker_is_a_hole_the_reader_passes(kafka_broker: Broker, topic: str) -> None:
    # A transactional producer's commit marker takes an offset that consumers never see: a real, lasting hole.
    settings = SETTINGS.model_copy(update={"log_gap_wait_ms": 4000})
    with KafkaLogWriter(settings, [kafka_broker.bootstrap], topic) as w:
        w.ensure_topic()  # one partition, as the log's topic must be
    plain = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    plain.send(topic, b"before", partition=0).get(10)
    txn = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, transactional_id=f"tx-{uuid.uuid4().hex[:8]}")
    txn.init_transactions()
    txn.begin_transaction()
    txn.send(topic, b"in a transaction", partition=0)
    txn.commit_transaction()
    with KafkaLogReader(settings, [kafka_broker.bootstrap], topic) as probe:
        deadline = time.monotonic() + 10
        while probe.end_offset() < 3 and time.monotonic() < deadline:  # the marker is written after the commit
            time.sleep(0.05)
    plain.send(topic, b"after", partition=0).get(10)
    txn.close()
    plain.close()
    with KafkaLogReader(settings, [kafka_broker.bootstrap], topic) as reader:
        started = time.monotonic()
        records = read_until(reader, 3)
        took = time.monotonic() - started
        assert [(r.offset, r.value) for r in records] == [(0, b"before"), (1, b"in a transaction"), (3, b"after")]
        assert reader.skipped == 1
    if kafka_broker.keeps_data:  # Apache Kafka: offsets are visible only once stored, a hole is passed at once
        assert took < 2.0
    else:  # tansu: a hole may be a batch still being stored, so the reader waits log_gap_wait_ms first
        assert took >= 4.0


def test_projection_loses_no_op_of_a_late_batch(kafka_broker: Broker, topic: str, tmp_path: Path) -> None:
    url = kafka_broker.url(topic)
    producer = mlmd_log.connect(url)
    type_id = producer.put_artifact_type(mlmd.ArtifactType(name="T"))
    for call in range(40):
        producer.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{call}/{j}") for j in range(5)])
    producer.close(30)

    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    source = KafkaLogReader(SETTINGS, [kafka_broker.bootstrap], topic)
    end = source.end_offset()
    hide(source, range(17, 23), times=2)
    loop = ProjectorLoop(con, source, SETTINGS)
    loop.run(until_caught_up=True)
    loop.stop()
    assert con.execute("SELECT count(*) FROM artifacts").fetchone() == (200,)
    positions = [p for (p,) in con.execute("SELECT position FROM op_archive ORDER BY position").fetchall()]
    assert positions == list(range(end))  # every op of the log, each once
    con.close()
