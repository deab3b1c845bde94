"""Our Kafka record batches: byte-compatible with the format kafka-python (and brokers) read, and handled by
kafka-python's accumulator like its own (sequence numbers, splits of batches a broker finds too large)."""

from __future__ import annotations

import pytest
from kafka.producer.record_accumulator import RecordAccumulator
from kafka.record.memory_records import MemoryRecords
from kafka.structs import TopicPartition

from mlmd_log.producer.record_batch import RecordBatchBuilder, zigzag
from mlmd_log.producer.transport import _BatchRecord, _OpBatch

T0 = 1_700_000_000_000


def _parse(builder: RecordBatchBuilder) -> tuple[object, list[object]]:
    batch = MemoryRecords(bytes(builder.buffer())).next_batch()
    assert batch.validate_crc()  # before iterating: kafka-python checks the compressed bytes
    return batch, list(batch)


@pytest.mark.parametrize("compression", [None, "zstd", "gzip"])
def test_records_read_back_with_kafka_pythons_reader(compression: str | None) -> None:
    builder = RecordBatchBuilder(1 << 22, compression, T0)
    values = [bytes([i % 251]) * (i * 97 % 20_000) for i in range(300)]
    keys = [None if i % 3 else b"key-%d" % i for i in range(300)]
    # Timestamps move both ways (a clock step back must not break the batch).
    stamps = [T0 + (i * 7 if i % 50 else -5) for i in range(300)]
    for i, (value, key, stamp) in enumerate(zip(values, keys, stamps, strict=True)):
        assert builder.add(value, stamp, key) == i
    builder.set_producer_state(4242, 3, 17, False)
    builder.close()
    batch, records = _parse(builder)
    assert [r.value for r in records] == values
    assert [r.key for r in records] == keys
    assert [r.offset for r in records] == list(range(300))
    assert [r.timestamp for r in records] == stamps
    assert all(r.headers == [] for r in records)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (4242, 3, 17)
    assert batch.compression_type == {None: 0, "gzip": 1, "zstd": 4}[compression]
    assert builder.next_offset() == 300 and builder.size_in_bytes() == len(builder.buffer())


def test_a_batch_refuses_a_record_past_its_size_but_always_takes_the_first() -> None:
    builder = RecordBatchBuilder(2_000, None, T0)
    assert builder.add(b"x" * 5_000, T0) == 0  # larger than the batch: still the first record
    assert builder.add(b"y", T0) == -1
    small = RecordBatchBuilder(2_000, None, T0)
    taken = 0
    while small.add(b"z" * 100, T0) >= 0:
        taken += 1
    assert taken == (2_000 - 61) // 109  # 61-byte header; 109 bytes per record of 100
    assert small.size_in_bytes() <= 2_000
    small.close()
    assert small.add(b"late", T0) == -1  # the sender closed it: nothing more goes in
    assert len(_parse(small)[1]) == taken


def test_incompressible_records_go_uncompressed() -> None:
    builder = RecordBatchBuilder(1 << 20, "zstd", T0)
    builder.add(bytes(range(256)), T0)
    builder.close()
    batch, records = _parse(builder)
    assert batch.compression_type == 0 and records[0].value == bytes(range(256))


def test_zigzag_matches_kafkas_varints() -> None:
    from kafka.record.util import encode_varint

    for value in (0, 1, -1, 63, -64, 64, 300, -300, 1 << 31, -(1 << 40), (1 << 62)):
        out = bytearray()
        encode_varint(value, out.append)
        assert zigzag(value) == bytes(out), value


def test_a_batch_split_for_size_rebinds_every_ops_future_to_its_new_batch() -> None:
    """What kafka-python's sender does on MESSAGE_TOO_LARGE: split the batch and re-send the halves."""
    tp = TopicPartition("ops", 0)
    accumulator = RecordAccumulator(batch_size=1 << 20, message_version=2)
    records = RecordBatchBuilder(1 << 20, "zstd", T0)
    batch = _OpBatch(tp, records, 0.0)
    sent = [_BatchRecord(batch, records.add(b"op %d" % i, T0 + i)) for i in range(10)]
    records.set_producer_state(7, 0, 0, False)
    records.close()
    assert accumulator.split_and_reenqueue(batch) == 2
    halves = list(accumulator._batches[tp])
    assert [h.record_count for h in halves] == [5, 5]
    assert not any(s.is_done for s in sent)
    base = 100
    for half in halves:
        half.records.close()
        half.complete(base, -1)
        base += half.record_count
    assert [s.get(1.0).offset for s in sent] == list(range(100, 110))
    assert all(s.is_done and not s.failed() for s in sent)


def test_a_completed_batch_gives_each_op_its_offset_and_a_failed_one_its_error() -> None:
    tp = TopicPartition("ops", 0)
    ok = _OpBatch(tp, RecordBatchBuilder(1 << 20, None, T0), 0.0)
    first = _BatchRecord(ok, ok.records.add(b"a", T0))
    second = _BatchRecord(ok, ok.records.add(b"b", T0))
    ok.records.close()
    ok.complete(41, -1)
    assert (first.get(0.1).offset, second.get(0.1).offset) == (41, 42)
    bad = _OpBatch(tp, RecordBatchBuilder(1 << 20, None, T0), 0.0)
    lost = _BatchRecord(bad, bad.records.add(b"c", T0))
    assert not lost.is_done
    with pytest.raises(Exception, match="no acknowledgement"):
        lost.get(0.05)
    bad.records.close()
    bad.abort(RuntimeError("broker gone"))
    assert lost.failed() and isinstance(lost.exception, RuntimeError)
    with pytest.raises(RuntimeError, match="broker gone"):
        lost.get(0.1)
