"""Kafka record batches (message format v2) built from encoded ops in one pass at close time.

Why our own builder: kafka-python's ``KafkaProducer.send`` spends ~20 us of
Python per record (argument checks, a partitioner, a size estimate, a lock, a
per-record varint writer and a future per record): with the producer's own
per-call work on top, that would hold it under half of kafka-python's raw send
rate. Ops are bytes with no headers (and no key), always for partition 0,
so a record reduces to a short prefix and the op itself: :meth:`add` keeps the
pieces and :meth:`close` joins, compresses and checksums them once per batch.

The object speaks the interface kafka-python's accumulator and sender use on a
batch's records (``set_producer_state``, ``close``, ``buffer``, ``is_full``,
``next_offset``, ``size_in_bytes``, ``compression_rate`` and the producer
state properties), so the client's own sender assigns producer ids and
sequence numbers, retries, and completes the batch: idempotence is kafka-python's.

Format (Kafka protocol, RecordBatch v2): a 61-byte header (base offset, length,
leader epoch, magic 2, CRC-32C of everything after the CRC field, attributes,
last offset delta, first and max timestamp, producer id, epoch, base sequence,
record count) followed by the records, compressed as one block when that pays.
Each record is: length, attributes, timestamp delta, offset delta, key length
(-1: no key), key, value length, value, header count (0), the integers as zig-zag
varints.
"""

from __future__ import annotations

import gzip
import struct
from typing import Final

import zstandard
from crc32c import crc32c

from mlmd_log.schemas.wire import varint

#: Compression codecs this builder writes itself, by Kafka's attribute code.
CODECS: Final[dict[str | None, int]] = {None: 0, "gzip": 1, "zstd": 4}

_HEADER: Final = struct.Struct(">qiibIhiqqqhii")
_CRC_AT: Final = 17  # after base offset (8), length (4), leader epoch (4), magic (1)
_CRC_FROM: Final = 21  # attributes onwards
_LENGTH_FROM: Final = 12  # the length counts the bytes after itself
_ATTRIBUTES: Final = b"\x00"  # a record's attributes (unused by the format: always 0)


def zigzag(value: int) -> bytes:
    """Kafka's signed varint of an int64: zig-zag (0, -1, 1, -2 -> 0, 1, 2, 3), then protobuf's varint."""
    return varint((value << 1) ^ (value >> 63))


#: Zig-zag varints of small non-negative numbers, precomputed (deltas and lengths are mostly small).
_SMALL: Final = tuple(zigzag(i) for i in range(1 << 13))
_NULL_KEY: Final = zigzag(-1)


class RecordBatchBuilder:
    """The records of one batch for one partition; not thread-safe (the caller holds the partition lock)."""

    __slots__ = (
        "_base_sequence", "_buffer", "_closed", "_codec", "_compressor", "_count", "_first_ms", "_is_transactional",
        "_limit", "_max_ms", "_parts", "_producer_epoch", "_producer_id", "_size", "_written",
    )

    def __init__(self, batch_bytes: int, compression: str | None, first_ms: int) -> None:
        if compression not in CODECS:
            raise ValueError(f"unsupported compression {compression!r}")
        self._codec = CODECS[compression]
        self._compressor = zstandard.ZstdCompressor() if compression == "zstd" else None
        self._limit = batch_bytes
        self._parts: list[bytes] = []
        self._size = _HEADER.size
        self._count = 0
        self._first_ms = first_ms
        self._max_ms = first_ms
        self._producer_id = -1
        self._producer_epoch = -1
        self._base_sequence = -1
        self._is_transactional = False
        self._closed = False
        self._buffer = bytearray()
        self._written = 0

    def add(
        self, value: bytes, timestamp_ms: int, key: bytes | None = None, small: tuple[bytes, ...] = _SMALL
    ) -> int:
        """Append a record (no headers); its index in the batch, or -1 when it does not fit (the first
        record always fits: a batch holds at least one), or once the sender has closed the batch."""
        if self._closed:
            return -1
        count = self._count
        delta = timestamp_ms - self._first_ms
        size = len(value)
        head = b"".join((
            _ATTRIBUTES,
            small[delta] if 0 <= delta < 8192 else zigzag(delta),
            small[count] if count < 8192 else zigzag(count),
            _NULL_KEY if key is None else zigzag(len(key)) + key,
            small[size] if size < 8192 else zigzag(size),
        ))
        body = len(head) + size + 1
        prefix = small[body] if body < 8192 else zigzag(body)
        total = len(prefix) + body
        if count and self._size + total > self._limit:
            return -1
        self._parts += (prefix, head, value, b"\x00")
        self._size += total
        self._count = count + 1
        self._max_ms = max(self._max_ms, timestamp_ms)
        return count

    # --- the interface kafka-python's accumulator and sender use ---------------------------------------

    def set_producer_state(self, producer_id: int, producer_epoch: int, base_sequence: int, is_transactional: bool) -> None:
        if self._closed:
            raise RuntimeError("producer state set on a closed batch")
        self._producer_id = producer_id
        self._producer_epoch = producer_epoch
        self._base_sequence = base_sequence
        self._is_transactional = is_transactional

    @property
    def producer_id(self) -> int:
        return self._producer_id

    @property
    def producer_epoch(self) -> int:
        return self._producer_epoch

    @property
    def base_sequence(self) -> int:
        return self._base_sequence

    def close(self) -> None:
        """Encode the batch (once: the sender closes a batch again on every retry)."""
        if self._closed:
            return
        self._closed = True
        records = b"".join(self._parts)
        self._parts = []
        self._written = _HEADER.size + len(records)
        codec = self._codec
        if codec:
            packed = self._compressor.compress(records) if self._compressor is not None else gzip.compress(records)
            if len(packed) < len(records):
                records = packed
            else:
                codec = 0
        buffer = bytearray(_HEADER.size)
        buffer += records
        attributes = codec | (0x10 if self._is_transactional else 0)
        _HEADER.pack_into(
            buffer, 0, 0, len(buffer) - _LENGTH_FROM, 0, 2, 0, attributes, self._count - 1, self._first_ms,
            self._max_ms, self._producer_id, self._producer_epoch, self._base_sequence, self._count,
        )
        struct.pack_into(">I", buffer, _CRC_AT, crc32c(memoryview(buffer)[_CRC_FROM:]))
        self._buffer = buffer

    def buffer(self) -> bytearray:
        return self._buffer

    def is_full(self) -> bool:
        return self._closed or self._size >= self._limit

    def next_offset(self) -> int:
        return self._count

    def size_in_bytes(self) -> int:
        return len(self._buffer) if self._closed else self._size

    def compression_rate(self) -> float:
        return len(self._buffer) / self._written if self._written else 1.0
