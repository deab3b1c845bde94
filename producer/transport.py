"""The producer's Kafka transport: append encoded ops to partition 0 of one topic and report each one's fate.

The log writer: one of the two users of :mod:`mlmd_log.kafka` (the client
factory, error translation and topic administration), and with it and the log
reader the only modules that import ``kafka``. It connects lazily: nothing
touches the network until :meth:`KafkaLogWriter.ensure_topic` or the first
:meth:`KafkaLogWriter.send`.

Delivery is ``acks=all`` with the idempotent producer, and every record goes to
partition 0 explicitly: the log is one ordered partition (docs/design.md, "Decisions"), and a record
must never land in a partition the projector does not read, even on a topic
that someone re-created with more partitions. Each send carries the caller's
``op_id``; :meth:`~KafkaLogWriter.flush` and :meth:`~KafkaLogWriter.close`
raise :class:`~mlmd_log.errors.DeliveryError` naming every op that was not
acknowledged.

kafka-python 3.0.12 facts this module works around:

* There is no ``buffer_memory`` setting any more; ``Settings.buffer_bytes`` is
  enforced here by waiting for acknowledgements before accepting more bytes.
* ``KafkaProducer.close(timeout)`` re-raises its flush timeout before stopping
  the sender thread; :meth:`KafkaLogWriter.close` stops it.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, suppress
from typing import Any, Final

import kafka.errors as kerr
from kafka import KafkaProducer
from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd
from kafka.producer.future import FutureRecordMetadata
from kafka.producer.producer_batch import ProducerBatch
from kafka.structs import TopicPartition

from mlmd_log.errors import (
    ConfigError,
    DeliveryError,
    FailedPreconditionError,
    MlmdLogError,
    OpTooLargeError,
)
from mlmd_log.kafka import KafkaEndpoint, TopicAdmin, TopicSettingsUnverifiedWarning
from mlmd_log.producer.record_batch import CODECS, RecordBatchBuilder
from mlmd_log.settings import Settings

__all__ = ["KafkaLogWriter", "SendFuture", "TopicSettingsUnverifiedWarning"]

#: Room above ``max_op_bytes`` for the key, record and batch headers and the produce request.
FRAMING_BYTES: Final = 64 * 1024

_CODECS: Final[dict[str, tuple[Callable[[], bool], str]]] = {
    "zstd": (has_zstd, "zstandard"),
    "gzip": (has_gzip, "gzip"),
    "lz4": (has_lz4, "lz4"),
    "snappy": (has_snappy, "python-snappy"),
}
_SWEEP_MIN: Final = 4096
_SHOWN_OP_IDS: Final = 5


class _OpBatch(ProducerBatch):  # type: ignore[misc]  # kafka-python is untyped
    """A kafka-python batch whose records are a :class:`RecordBatchBuilder`: no future per record.

    kafka-python reads ``_record_futures`` only to split a batch the broker
    found too large; then, and only then, one future per record is made, and
    the split rebinds them to the smaller batches (``split_futures``).
    """

    def __init__(self, tp: Any, records: RecordBatchBuilder, now: float) -> None:
        self.split_futures: list[Any] | None = None
        super().__init__(tp, records, now=now)

    @property
    def _record_futures(self) -> list[Any]:
        if self.split_futures is None:
            first_ms = self.records._first_ms
            self.split_futures = [
                FutureRecordMetadata(self.produce_future, i, first_ms, None, -1, -1, -1)
                for i in range(self.records.next_offset())
            ]
        return self.split_futures

    @_record_futures.setter
    def _record_futures(self, value: list[Any]) -> None:
        """ProducerBatch.__init__ assigns an empty list: futures are made on demand instead."""


class _BatchRecord:
    """The fate of one record of an :class:`_OpBatch`, with the subset of kafka-python's future API that
    :class:`SendFuture` and the writer use (``is_done``, ``exception``, ``failed``, ``get``)."""

    __slots__ = ("batch", "index")

    def __init__(self, batch: _OpBatch, index: int) -> None:
        self.batch = batch
        self.index = index

    def _split(self) -> Any:
        futures = self.batch.split_futures
        return futures[self.index] if futures is not None else None

    @property
    def is_done(self) -> bool:
        split = self._split()
        return bool(split.is_done if split is not None else self.batch.produce_future.is_done)

    @property
    def exception(self) -> BaseException | None:
        split = self._split()
        if split is not None:
            return split.exception  # type: ignore[no-any-return]
        done = self.batch.produce_future
        if not done.is_done:
            return None
        if done.exception is not None:
            return done.exception  # type: ignore[no-any-return]
        per_record = done.value[2]
        return per_record(self.index) if per_record is not None else None

    def failed(self) -> bool:
        return self.is_done and self.exception is not None

    def get(self, timeout: float) -> Any:
        """Block until acknowledged; an object with the record's ``offset``, else the kafka error."""
        deadline = time.monotonic() + timeout
        done = self.batch.produce_future
        while not done.is_done:
            split = self._split()
            if split is not None:  # the batch was split: this record now rides in a smaller one
                return split.get(timeout=max(0.0, deadline - time.monotonic()))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise kerr.KafkaTimeoutError(f"no acknowledgement after {timeout:g} s")
            done.wait(min(remaining, 0.5))
        error = self.exception
        if error is not None:
            raise error
        return _Offset(done.value[0] + self.index)


class _Offset:
    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset


class _Lane:
    """Appends ops straight into kafka-python's accumulator for partition 0, as :class:`_OpBatch` batches.

    It does what ``KafkaProducer.send`` does for a header-less record to a
    known partition, under the same partition lock, and wakes the sender
    when a batch fills; kafka-python's sender drains, sequences, retries and
    completes the batches as its own. Uses kafka-python 3.0's accumulator
    internals (pinned <3.1 in pyproject.toml; tests/test_transport_kafka.py
    fails if they change).
    """

    def __init__(self, producer: Any, topic: str, batch_bytes: int, compression: str | None) -> None:
        self._tp = TopicPartition(topic, 0)
        self._accumulator = producer._accumulator
        self._sender = producer._sender
        self._lock = self._accumulator._tp_lock(self._tp)
        self._queue = self._accumulator._batches[self._tp]
        self._batch_bytes = batch_bytes
        self._compression = compression
        self._batch: _OpBatch | None = None

    def append(self, value: bytes, key: bytes | None, *, urgent: bool = False) -> _BatchRecord:
        """Add one record to the open batch (a new one when it is full); ``urgent``: send that batch now.

        A caller waiting for its op (``wait=True``, a server answering a client) should not also wait out
        ``linger_ms``: its batch is marked as having waited long enough, which the accumulator's readiness
        check (time since ``last_attempt``) then sees, and the sender is woken. Other batches keep lingering.
        """
        now_ms = int(time.time() * 1000)
        with self._lock:
            if self._accumulator._closed:
                raise kerr.IllegalStateError("the producer is closed")
            batch = self._batch
            index = batch.records.add(value, now_ms, key) if batch is not None else -1
            if index >= 0:
                if urgent and batch is not None and batch.attempts == 0:
                    batch.last_attempt = 0.0  # lingered long enough: sendable at the sender's next check
                    self._sender.wakeup()
                return _BatchRecord(batch, index)  # type: ignore[arg-type]
            records = RecordBatchBuilder(self._batch_bytes, self._compression, now_ms)
            batch = _OpBatch(self._tp, records, time.monotonic())
            index = records.add(value, now_ms, key)
            if urgent:
                batch.last_attempt = 0.0
            self._queue.append(batch)
            self._accumulator._incomplete.add(batch)
            self._batch = batch
        self._sender.wakeup()  # a new batch: the one before it (if any) is full and can go
        return _BatchRecord(batch, index)


class SendFuture:
    """One sent op: ``op_id`` (the caller's token) and, once acknowledged, its log position (offset)."""

    __slots__ = ("_future", "_writer", "op_id", "size")

    def __init__(self, future: Any, writer: KafkaLogWriter, op_id: str, size: int) -> None:
        self._future = future
        self._writer = writer
        self.op_id = op_id
        self.size = size

    def done(self) -> bool:
        """True once the broker acknowledged the op or its delivery failed."""
        return bool(self._future.is_done)

    def position(self, timeout: float | None = None) -> int:
        """Block until acknowledged (default: ``delivery_timeout_s``); the op's offset, else DeliveryError."""
        wait = self._writer.settings.delivery_timeout_s if timeout is None else timeout
        try:
            metadata = self._future.get(timeout=wait)
        except kerr.KafkaError as err:
            raise self._writer._delivery_error([(self, err)], wait) from err
        return int(metadata.offset)


class KafkaLogWriter:
    """Appends encoded ops to ``topic`` (partition 0) on the brokers ``bootstrap`` (``host:port`` each)."""

    def __init__(self, settings: Settings, bootstrap: Sequence[str], topic: str) -> None:
        self._endpoint = KafkaEndpoint(settings, bootstrap, topic)
        if settings.delivery_timeout_s * 1000 <= settings.linger_ms:
            raise ConfigError("delivery_timeout_s must be longer than linger_ms")
        self.settings = settings
        self.bootstrap = self._endpoint.bootstrap
        self.topic = self._endpoint.topic
        self._topics = TopicAdmin(self._endpoint)
        self._max_op_bytes = settings.max_op_bytes
        self._buffer_bytes = settings.buffer_bytes
        self._producer: Any = None
        self._lane: _Lane | None = None
        self._connect_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: list[SendFuture] = []
        self._pending_bytes = 0
        self._failed: list[tuple[SendFuture, BaseException]] = []
        self._sweep_at = _SWEEP_MIN
        self._topic_checked = False
        self._closed = False

    # --- topic -------------------------------------------------------------------------------------

    def ensure_topic(self) -> None:
        """Create the topic if absent (1 partition, retained forever, replicated); check it if present.

        A topic with more than one partition, or whose retention or cleanup
        policy would delete ops, raises TopicConfigError (:mod:`mlmd_log.kafka.admin`).
        """
        self._check_topic(create=True)

    def _check_topic(self, *, create: bool) -> None:
        if create:
            self._topics.ensure(self._max_request_bytes)
        else:
            self._topics.check(self._max_request_bytes)
        self._topic_checked = True

    # --- sending -----------------------------------------------------------------------------------

    def send(self, value: bytes, *, key: bytes | None = None, op_id: str = "", urgent: bool = False) -> SendFuture:
        """Append ``value`` (an encoded op) without waiting; ``op_id`` names it in delivery errors.

        Blocks only while ``buffer_bytes`` of earlier ops await acknowledgement. ``urgent``: the caller is
        about to wait for this op, so its batch goes out without lingering (``linger_ms``).
        """
        size = len(value)
        if size > self._max_op_bytes:
            raise OpTooLargeError(f"op {op_id or '?'} is {size} bytes; the limit (max_op_bytes) is {self._max_op_bytes}")
        if key:
            size += len(key)
        if self._pending_bytes + size > self._buffer_bytes:
            self._wait_for_room(size, op_id)
        producer = self._producer or self._connect()
        lane = self._lane
        try:  # the hot path translates inline: a context manager per op costs more than the check
            if lane is not None:
                future: Any = lane.append(value, key, urgent=urgent)
            else:
                future = producer.send(self.topic, value=value, key=key, partition=0)
        except kerr.KafkaError as err:
            raise self._translate(err, "sending an op") from err
        sent = SendFuture(future, self, op_id, size)
        with self._lock:
            self._pending.append(sent)
            self._pending_bytes += size
            if len(self._pending) >= self._sweep_at:
                self._sweep()
        return sent

    def flush(self, timeout: float | None = None) -> None:
        """Send everything buffered and wait (default ``delivery_timeout_s``) for acknowledgements.

        Raises DeliveryError listing every op sent before this call (and since
        the last flush) that failed or is still unacknowledged; those ops are
        forgotten (resending them is safe: op ids make applying idempotent).
        """
        wait = self.settings.delivery_timeout_s if timeout is None else timeout
        with self._lock:  # ops sent from here on belong to the next flush
            pending, failed = self._pending, self._failed
            self._pending, self._failed, self._pending_bytes = [], [], 0
            self._sweep_at = _SWEEP_MIN
        if self._producer is not None:
            # On timeout the unacknowledged ops are reported below.
            with self._kafka("flushing"), suppress(kerr.KafkaTimeoutError):
                self._producer.flush(timeout=wait)
        lost = failed + [(s, s._future.exception) for s in pending if not s._future.is_done or s._future.failed()]
        if lost:
            raise self._delivery_error(lost, wait)

    def close(self, timeout: float | None = None) -> None:
        """Flush (see :meth:`flush`), then release the connection; DeliveryError if ops were not acknowledged."""
        if self._closed:
            return
        self._closed = True
        flushed = False
        try:
            self.flush(timeout)
            flushed = True
        finally:
            producer, self._producer = self._producer, None
            if producer is not None:
                try:
                    producer.close(timeout=1.0 if flushed else 0)
                except kerr.KafkaError:
                    producer._sender.force_close()  # close() re-raised its flush timeout before stopping it
                    producer._sender.join(1.0)
                    producer.close(timeout=0)

    def __enter__(self) -> KafkaLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sweep(self) -> None:
        """Drop acknowledged ops from the pending list (caller holds the lock); keep failures for flush."""
        keep = []
        for sent in self._pending:
            future = sent._future
            if not future.is_done:
                keep.append(sent)
            elif future.exception is not None:
                self._failed.append((sent, future.exception))
                self._pending_bytes -= sent.size
            else:
                self._pending_bytes -= sent.size
        self._pending = keep
        self._sweep_at = max(_SWEEP_MIN, 2 * len(keep))

    def _wait_for_room(self, size: int, op_id: str) -> None:
        deadline = time.monotonic() + self.settings.delivery_timeout_s
        while True:
            with self._lock:
                self._sweep()
                if self._pending_bytes + size <= self._buffer_bytes or not self._pending:
                    return
                oldest = self._pending[0]._future
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeliveryError(
                    f"op {op_id or '?'} not sent: {self._pending_bytes} bytes await acknowledgement from "
                    f"{self._servers} (buffer_bytes={self.settings.buffer_bytes})",
                    [op_id],
                )
            with suppress(kerr.KafkaError):  # a failure is kept by the next sweep
                oldest.get(timeout=remaining)

    def _delivery_error(self, lost: list[tuple[SendFuture, BaseException | None]], wait: float) -> DeliveryError:
        failed = [(s, e) for s, e in lost if e is not None and not isinstance(e, kerr.KafkaTimeoutError)]
        causes = sorted({type(e).__name__ for _, e in failed})
        op_ids = [s.op_id for s, _ in lost]
        shown = ", ".join(op_id or "?" for op_id in op_ids[:_SHOWN_OP_IDS])
        more = f" and {len(op_ids) - _SHOWN_OP_IDS} more" if len(op_ids) > _SHOWN_OP_IDS else ""
        return DeliveryError(
            f"{len(lost)} op(s) not acknowledged by the brokers at {self._servers} (bootstrap servers; topic "
            f"{self.topic!r}): {len(failed)} failed{' (' + ', '.join(causes) + ')' if causes else ''}, "
            f"{len(lost) - len(failed)} unconfirmed after {wait:g} s: {shown}{more}. Is the broker down or "
            "unreachable? Sending these ops again is safe: a repeated op_id is applied once.",
            op_ids,
        )

    # --- kafka-python, through mlmd_log.kafka ---------------------------------------------------------

    @property
    def _servers(self) -> str:
        return self._endpoint.servers

    @property
    def _max_request_bytes(self) -> int:
        return max(self.settings.max_op_bytes, self.settings.batch_bytes) + FRAMING_BYTES

    def _connect(self) -> Any:
        with self._connect_lock:
            if self._closed:
                raise FailedPreconditionError(f"the Kafka writer for {self.topic!r} is closed")
            if self._producer is None:
                if not self._topic_checked:
                    self._check_topic(create=False)
                delivery_ms = int(self.settings.delivery_timeout_s * 1000)
                with self._kafka("connecting"):
                    self._producer = self._endpoint.open(
                        KafkaProducer,
                        acks="all",
                        enable_idempotence=True,
                        linger_ms=self.settings.linger_ms,
                        batch_size=self.settings.batch_bytes,
                        compression_type=self._compression(),
                        max_request_size=self._max_request_bytes,
                        delivery_timeout_ms=delivery_ms,
                        request_timeout_ms=max(1, min(30_000, delivery_ms - self.settings.linger_ms)),
                        max_block_ms=self._endpoint.connect_ms,
                        allow_auto_create_topics=False,
                    )
                    self._lane = self._open_lane(self._producer)
            return self._producer

    def _open_lane(self, producer: Any) -> _Lane | None:
        """The fast path for ops, once the partition's leader is known; None where it cannot serve (a codec
        our builder does not write, or a client whose internals differ): ``KafkaProducer.send`` then."""
        compression = producer.config["compression_type"]
        if compression not in CODECS or not self.settings.fast_send:
            return None
        if not hasattr(producer, "_accumulator") or not hasattr(producer._accumulator, "_batches"):
            warnings.warn("kafka-python's accumulator changed: sending ops through KafkaProducer.send", stacklevel=2)
            return None
        producer.partitions_for(self.topic)  # waits (max_block_ms) for the topic's metadata
        return _Lane(producer, self.topic, self.settings.batch_bytes, compression)

    def _compression(self) -> str | None:
        name = self.settings.compression
        if name == "none":
            return None
        available, module = _CODECS[name]
        if available():
            return name
        warnings.warn(f"compression {name!r} needs the {module} module; sending uncompressed", stacklevel=4)
        return None

    def _kafka(self, action: str) -> AbstractContextManager[None]:
        """The choke point (:meth:`KafkaEndpoint.translating`): kafka-python errors become mlmd-log errors."""
        return self._endpoint.translating(action, _too_large)

    def _translate(self, err: kerr.KafkaError, action: str) -> MlmdLogError:
        return self._endpoint.translate(err, action, _too_large)


def _too_large(err: kerr.KafkaError, where: str) -> MlmdLogError | None:
    """The writer's own translation: a batch the broker refused as too large."""
    if isinstance(err, kerr.MessageSizeTooLargeError):
        return OpTooLargeError(f"{where}: {err}")
    return None
