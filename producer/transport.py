"""The producer's Kafka transport: append encoded ops to partition 0 of one topic and report each one's fate.

This is the only producer module that imports ``kafka`` (docs/design.md, "Decisions"). It
wraps kafka-python once, typed, and connects lazily: nothing touches the
network until :meth:`KafkaLogWriter.ensure_topic` or the first
:meth:`KafkaLogWriter.send`. Every kafka-python error is translated in one
place (:meth:`KafkaLogWriter._translate`) into the project's hierarchy.

Delivery is ``acks=all`` with the idempotent producer, and every record goes to
partition 0 explicitly: the log is one ordered partition (§4), and a record
must never land in a partition the projector does not read, even on a topic
that someone re-created with more partitions. Each send carries the caller's
``op_id``; :meth:`~KafkaLogWriter.flush` and :meth:`~KafkaLogWriter.close`
raise :class:`~mlmd_log.errors.DeliveryError` naming every op that was not
acknowledged.

kafka-python 3.0.12 facts this module works around:

* ``allow_auto_create_topics=False`` never reaches the client's metadata
  requests (``KafkaConnectionManager`` builds ``ClusterMetadata`` without it),
  so a producer that merely asks for a missing topic creates it (tansu gives it
  4 partitions). The client factory sets the flag on the cluster metadata.
* There is no ``buffer_memory`` setting any more; ``Settings.buffer_bytes`` is
  enforced here by waiting for acknowledgements before accepting more bytes.
* ``KafkaProducer.close(timeout)`` re-raises its flush timeout before stopping
  the sender thread; :meth:`KafkaLogWriter.close` stops it.
* A failed bootstrap leaves the client's IO thread running; the factory closes it.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Final

import kafka.errors as kerr
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd
from kafka.net.compat import KafkaNetClient
from kafka.producer.future import FutureRecordMetadata
from kafka.producer.producer_batch import ProducerBatch
from kafka.structs import TopicPartition

from mlmd_log.errors import (
    BrokerUnavailableError,
    ConfigError,
    DeliveryError,
    FailedPreconditionError,
    InternalError,
    MlmdLogError,
    NotFoundError,
    OpTooLargeError,
    PermissionDeniedError,
    TopicConfigError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from mlmd_log.producer.record_batch import CODECS, RecordBatchBuilder
from mlmd_log.settings import Settings
from mlmd_log.urls import validate_topic

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


class TopicSettingsUnverifiedWarning(UserWarning):
    """The broker did not report a topic setting, so it could not be checked."""


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

    def append(self, value: bytes, key: bytes | None) -> _BatchRecord:
        now_ms = int(time.time() * 1000)
        with self._lock:
            if self._accumulator._closed:
                raise kerr.IllegalStateError("the producer is closed")
            batch = self._batch
            index = batch.records.add(value, now_ms, key) if batch is not None else -1
            if index >= 0:
                return _BatchRecord(batch, index)  # type: ignore[arg-type]
            records = RecordBatchBuilder(self._batch_bytes, self._compression, now_ms)
            batch = _OpBatch(self._tp, records, time.monotonic())
            index = records.add(value, now_ms, key)
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
        if isinstance(bootstrap, str) or not bootstrap:
            raise ConfigError(f"bootstrap must be a non-empty list of host:port strings, got {bootstrap!r}")
        if settings.delivery_timeout_s * 1000 <= settings.linger_ms:
            raise ConfigError("delivery_timeout_s must be longer than linger_ms")
        self.settings = settings
        self.bootstrap: tuple[str, ...] = tuple(bootstrap)
        self.topic = validate_topic(topic)
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
        """Create the topic if absent (1 partition, retained forever); check it if present.

        A topic with more than one partition, or whose retention or cleanup
        policy would delete ops, raises TopicConfigError. Where the broker does
        not report a setting (tansu reports only what was set at creation), a
        TopicSettingsUnverifiedWarning says so instead of refusing.
        """
        self._check_topic(create=True)

    def _check_topic(self, *, create: bool) -> None:
        with self._kafka("checking the topic"), self._admin() as admin:
            found = self._describe_topic(admin)
            if found is None and create:
                found = self._create_topic(admin)
            if found is None:
                raise NotFoundError(
                    f"topic {self.topic!r} does not exist on {self._servers}: create it with ensure_topic()"
                )
            if found != 1:
                raise TopicConfigError(
                    f"topic {self.topic!r} on {self._servers} has {found} partitions; the log needs exactly 1 "
                    "(one total order). Use a new single-partition topic."
                )
            self._check_topic_configs(admin)
        self._topic_checked = True

    def _describe_topic(self, admin: Any) -> int | None:
        """The topic's partition count, or None when it does not exist."""
        (info,) = admin.describe_topics([self.topic])
        error = kerr.for_code(info["error_code"])
        if error is kerr.UnknownTopicOrPartitionError:
            return None
        if error is not kerr.NoError:
            raise error(f"describing topic {self.topic!r}")
        return len(info["partitions"])

    def _create_topic(self, admin: Any) -> int | None:
        brokers = len(admin.describe_cluster()["brokers"])
        replication = 1 if brokers <= 1 else min(3, brokers)
        configs = {
            "retention.ms": "-1",
            "retention.bytes": "-1",
            "cleanup.policy": "delete",
            "max.message.bytes": str(self._max_request_bytes),
        }
        if replication >= 3:
            configs["min.insync.replicas"] = "2"
        spec = {"num_partitions": 1, "replication_factor": replication, "configs": configs}
        with suppress(kerr.TopicAlreadyExistsError):  # another producer won the race: check what it made
            admin.create_topics({self.topic: spec}, timeout_ms=self._connect_ms, wait_for_metadata=True)
        return self._describe_topic(admin)

    def _check_topic_configs(self, admin: Any) -> None:
        try:
            described = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, self.topic)], config_filter="all"
            )
            reported = {
                name: entry.get("value") for name, entry in described.get("topic", {}).get(self.topic, {}).items()
            }
        except (kerr.UnsupportedVersionError, kerr.UnrecognizedBrokerVersion):
            reported = {}
        problems = []
        retention_ms = reported.get("retention.ms")
        if retention_ms is None:
            warnings.warn(
                f"the broker at {self._servers} did not report retention.ms for topic {self.topic!r}; "
                "it must be -1 (retain ops forever): check it by hand",
                TopicSettingsUnverifiedWarning,
                stacklevel=4,
            )
        elif retention_ms != "-1":
            problems.append(f"retention.ms={retention_ms} (must be -1: ops are kept forever)")
        retention_bytes = reported.get("retention.bytes")
        if retention_bytes not in (None, "-1"):
            problems.append(f"retention.bytes={retention_bytes} (must be -1 or unset)")
        policy = reported.get("cleanup.policy") or ""
        if "compact" in policy:
            problems.append(f"cleanup.policy={policy} (must be delete: compaction drops records)")
        if problems:
            raise TopicConfigError(
                f"topic {self.topic!r} on {self._servers} would lose ops: {'; '.join(problems)}. "
                "Fix the topic (e.g. kafka-configs.sh --alter --entity-type topics "
                f"--entity-name {self.topic} --add-config retention.ms=-1) or use another topic."
            )
        max_message = reported.get("max.message.bytes")
        if max_message is not None and max_message.isdigit() and int(max_message) < self._max_request_bytes:
            warnings.warn(
                f"topic {self.topic!r} accepts batches up to max.message.bytes={max_message}; "
                f"ops up to {self.settings.max_op_bytes} bytes need {self._max_request_bytes}",
                TopicSettingsUnverifiedWarning,
                stacklevel=4,
            )

    # --- sending -----------------------------------------------------------------------------------

    def send(self, value: bytes, *, key: bytes | None = None, op_id: str = "") -> SendFuture:
        """Append ``value`` (an encoded op) without waiting; ``op_id`` names it in delivery errors.

        Blocks only while ``buffer_bytes`` of earlier ops await acknowledgement.
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
                future: Any = lane.append(value, key)
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

    # --- kafka-python, in one place -----------------------------------------------------------------

    @property
    def _servers(self) -> str:
        return ",".join(self.bootstrap)

    @property
    def _connect_ms(self) -> int:
        return max(1, int(self.settings.connect_timeout_s * 1000))

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
                    self._producer = _open(
                        KafkaProducer,
                        bootstrap_servers=list(self.bootstrap),
                        acks="all",
                        enable_idempotence=True,
                        linger_ms=self.settings.linger_ms,
                        batch_size=self.settings.batch_bytes,
                        compression_type=self._compression(),
                        max_request_size=self._max_request_bytes,
                        delivery_timeout_ms=delivery_ms,
                        request_timeout_ms=max(1, min(30_000, delivery_ms - self.settings.linger_ms)),
                        bootstrap_timeout_ms=self._connect_ms,
                        max_block_ms=self._connect_ms,
                        allow_auto_create_topics=False,
                        **self.settings.kafka_security(),
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

    @contextmanager
    def _admin(self) -> Iterator[Any]:
        admin = _open(
            KafkaAdminClient,
            bootstrap_servers=list(self.bootstrap),
            bootstrap_timeout_ms=self._connect_ms,
            request_timeout_ms=max(self._connect_ms, 1000),
            **self.settings.kafka_security(),
        )
        try:
            yield admin
        finally:
            admin.close()

    def _compression(self) -> str | None:
        name = self.settings.compression
        if name == "none":
            return None
        available, module = _CODECS[name]
        if available():
            return name
        warnings.warn(f"compression {name!r} needs the {module} module; sending uncompressed", stacklevel=4)
        return None

    @contextmanager
    def _kafka(self, action: str) -> Iterator[None]:
        """The choke point: kafka-python errors raised inside become mlmd-log errors."""
        try:
            yield
        except kerr.KafkaError as err:
            raise self._translate(err, action) from err

    def _translate(self, err: kerr.KafkaError, action: str) -> MlmdLogError:
        where = f"{action} on topic {self.topic!r} at {self._servers}"
        if isinstance(err, kerr.SaslAuthenticationFailedError):
            return UnauthenticatedError(f"{where}: authentication failed: {err}")
        if isinstance(err, kerr.AuthorizationError):
            return PermissionDeniedError(f"{where}: not authorized: {err}")
        if isinstance(err, kerr.MessageSizeTooLargeError):
            return OpTooLargeError(f"{where}: {err}")
        if isinstance(err, (kerr.KafkaConfigurationError, kerr.UnsupportedCodecError)):
            return ConfigError(f"{where}: {err}")
        if isinstance(err, kerr.UnsupportedVersionError):
            return UnimplementedError(f"{where}: the broker does not support this: {err}")
        if isinstance(err, kerr.IllegalStateError):
            return FailedPreconditionError(f"{where}: {err}")
        if isinstance(err, (kerr.KafkaTimeoutError, kerr.KafkaConnectionError, kerr.NodeNotReadyError)):
            return BrokerUnavailableError(
                f"{where}: no Kafka broker answered within {self.settings.connect_timeout_s:g} s "
                f"(bootstrap servers: {self._servers}): {err}"
            )
        if isinstance(err, kerr.RetriableError):
            return UnavailableError(f"{where}: {err}")
        return InternalError(f"{where}: {err}")


def _open(cls: Any, **config: Any) -> Any:
    """Construct a kafka-python client with auto topic creation really off, closing it if bootstrap fails."""
    clients: list[Any] = []

    def factory(**kwargs: Any) -> Any:
        client = KafkaNetClient(**kwargs)
        client._manager.cluster.config["allow_auto_create_topics"] = False
        clients.append(client)
        return client

    try:
        return cls(kafka_client=factory, **config)
    except BaseException:
        for client in clients:
            client.close()
        raise
