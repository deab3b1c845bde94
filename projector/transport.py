"""The projector's Kafka transport: read partition 0 of one topic from a given offset, as LogRecords.

This is the only projector module that imports ``kafka`` (docs/design.md, "Decisions"). It
wraps kafka-python once, typed, and connects lazily. There is no consumer
group: the projector keeps its own checkpoint in DuckDB, so the reader is
``assign()``-ed to partition 0 and ``seek()``-s to the offset it is given
(group joins also block for half of ``session_timeout_ms`` on tansu). Every
kafka-python error is translated in one place (:meth:`KafkaLogReader._translate`).

Offsets, as measured against tansu 0.6.0 and kafka-python 3.0.12:

* ``KafkaConsumer.end_offsets()`` (ListOffsets LATEST) is wrong on tansu: it
  answers the *base offset of the last record batch* + 1, so after one batch of
  10 records it says 1, not 10. The end of the log is therefore read from a
  fetch response's high watermark (``consumer.highwater()``), which is right on
  tansu and on Apache Kafka. :meth:`KafkaLogReader.end_offset` issues that
  fetch on a separate probe consumer so the stream's position and prefetched
  records are untouched.
* ``beginning_offsets()`` (ListOffsets EARLIEST) is right on both.
* Fetching past the end: Apache Kafka answers OFFSET_OUT_OF_RANGE, which this
  reader raises as LogRegressionError (``auto_offset_reset='none'``: nothing is
  skipped silently); tansu answers an empty fetch, so the projector must also
  compare its checkpoint with :meth:`~KafkaLogReader.end_offset` and
  :meth:`~KafkaLogReader.read_at` (a restarted in-memory tansu is empty).
* Holes: tansu (memory storage) gives a produced batch its offsets (raises the
  high watermark) before it stores the batch, and a fetch answers the batches
  stored at or after the offset asked for. While two producers write, a fetch
  can therefore return the batch *after* one still being stored, and
  kafka-python moves on past the missing offsets (a CI soak lost one 10-op
  batch of ~2,000, which this explains; rare: 2M records produced here by 4-8
  concurrent producers showed no hole). The reader accepts only contiguous
  offsets: at a hole it seeks back and asks again until the records arrive, or,
  after ``log_gap_wait_ms``, goes on past the hole with a warning and counts the
  offsets in :attr:`KafkaLogReader.skipped` (Apache Kafka leaves holes only
  where a transaction marker or compaction took offsets, which our log has not).
* ``allow_auto_create_topics=False`` does not reach kafka-python 3.0.12's
  metadata requests, and tansu then creates a missing topic (with 4
  partitions) as soon as a consumer asks for it; the client factory sets the
  flag where kafka-python reads it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import kafka.errors as kerr
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.net.compat import KafkaNetClient

from mlmd_log.errors import (
    BrokerUnavailableError,
    ConfigError,
    FailedPreconditionError,
    InternalError,
    LogRegressionError,
    MlmdLogError,
    NotFoundError,
    PermissionDeniedError,
    TopicConfigError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from mlmd_log.projector.records import LogRecord
from mlmd_log.settings import Settings
from mlmd_log.urls import validate_topic

#: Room above the largest op for record, batch and fetch-response framing.
FRAMING_BYTES: Final = 1024 * 1024
#: Per-poll wait inside the probe loops, so deadlines are kept closely.
_PROBE_POLL_MS: Final = 20
#: Pause before asking again for the records of a hole (module docstring), so waiting is not a busy loop.
_HOLE_RETRY_S: Final = 0.01

_log = logging.getLogger(__name__)


class KafkaLogReader:
    """Reads ``topic`` partition 0 from the brokers ``bootstrap`` (``host:port`` each), in offset order."""

    def __init__(self, settings: Settings, bootstrap: Sequence[str], topic: str) -> None:
        if isinstance(bootstrap, str) or not bootstrap:
            raise ConfigError(f"bootstrap must be a non-empty list of host:port strings, got {bootstrap!r}")
        self.settings = settings
        self.bootstrap: tuple[str, ...] = tuple(bootstrap)
        self.topic = validate_topic(topic)
        self._tp: Any = TopicPartition(self.topic, 0)
        self._position = 0
        self._known_end = 0
        self._stream: Any = None
        self._probe: Any = None
        self._closed = False
        #: The hole being waited for: its first offset and when it was first seen (monotonic seconds).
        self._hole: tuple[int, float] | None = None
        #: Offsets given up on: holes that did not fill within ``log_gap_wait_ms`` (module docstring).
        self.skipped = 0

    # --- the stream ---------------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The offset the next :meth:`poll_batch` starts at."""
        return self._position

    def seek(self, offset: int) -> None:
        """Make the next :meth:`poll_batch` start at ``offset`` (the projector passes checkpoint + 1)."""
        if offset < 0:
            raise ConfigError(f"cannot seek to negative offset {offset}")
        self._position = offset
        self._hole = None
        if self._stream is not None:
            self._stream.seek(self._tp, offset)

    def poll_batch(self, max_records: int | None = None, timeout_ms: int | None = None) -> list[LogRecord]:
        """The next records in offset order, at most ``max_records`` (default ``batch_max_ops``).

        Waits up to ``timeout_ms`` (default ``poll_timeout_ms``) when none are
        ready and then returns ``[]``. Raises LogRegressionError when the broker
        says the position lies outside the log (Apache Kafka; see the module docstring for tansu).
        The records returned always continue the position without a hole, except past a hole
        given up on after ``log_gap_wait_ms`` (module docstring); ``[]`` while waiting for one.
        """
        stream = self._stream or self._connect_stream()
        limit = self.settings.batch_max_ops if max_records is None else max_records
        wait = self.settings.poll_timeout_ms if timeout_ms is None else timeout_ms
        with self._kafka(f"reading from offset {self._position}"):
            polled = stream.poll(timeout_ms=wait, max_records=limit)
        records = [_record(r) for r in polled.get(self._tp, ())]
        if not records:
            return records
        expected = self._position
        if records[0].offset != expected or records[-1].offset != expected + len(records) - 1:
            records = self._close_hole(stream, records)  # offsets only grow, so equal ends mean no hole
            if not records:
                return records
        self._hole = None
        self._position = records[-1].offset + 1
        return records

    def _close_hole(self, stream: Any, records: list[LogRecord]) -> list[LogRecord]:
        """The records of a poll that skipped offsets, cut to those that continue the position.

        Records before a hole are returned and the stream is moved back to the hole. A hole at the
        position itself is asked for again (``[]`` meanwhile) until it fills or ``log_gap_wait_ms``
        has passed since it was first seen; then the reader goes on past it with a warning.
        """
        expected = self._position
        records = [r for r in records if r.offset >= expected]  # kafka-python never returns these; be sure
        for i, record in enumerate(records):
            if record.offset != expected + i:
                break
        else:
            return records
        if i > 0:
            stream.seek(self._tp, expected + i)  # the records after the hole are fetched again
            return records[:i]
        now = time.monotonic()
        if self._hole is None or self._hole[0] != expected:
            self._hole = (expected, now)
            _log.info("offsets %d..%d are missing from topic %r for now; asking again", expected,
                      records[0].offset - 1, self.topic)
        waited = now - self._hole[1]
        if waited * 1000 < self.settings.log_gap_wait_ms:
            stream.seek(self._tp, expected)
            time.sleep(_HOLE_RETRY_S)
            return []
        missing = records[0].offset - expected
        self.skipped += missing
        _log.warning(
            "topic %r holds no records at offsets %d..%d after %.1f s (log_gap_wait_ms); going on past "
            "them (%d offsets skipped so far)", self.topic, expected, records[0].offset - 1, waited, self.skipped,
        )
        self._hole = None
        self._position = records[0].offset
        return self._close_hole(stream, records)

    # --- probes: the log's bounds and single records ------------------------------------------------

    def read_at(self, offset: int, timeout_ms: int | None = None) -> LogRecord | None:
        """The record at ``offset``, or None when the log holds none there (before its start or at/after its end).

        Used to check that the op at the projector's checkpoint is still the
        one the log holds (log-regression detection). Does not move the stream.
        """
        if offset < 0:
            return None
        deadline = self._deadline(timeout_ms)
        probe = self._probe_from(offset)
        with self._kafka(f"reading offset {offset}"):
            try:
                while True:
                    records = probe.poll(timeout_ms=_PROBE_POLL_MS, max_records=1).get(self._tp)
                    if records:
                        first = records[0]
                        return _record(first) if first.offset == offset else None
                    highwater = probe.highwater(self._tp)
                    if highwater is not None and self._saw_end(highwater) <= offset:
                        return None
                    self._check_deadline(deadline, f"reading offset {offset}")
            except kerr.OffsetOutOfRangeError:
                return None
            finally:
                probe.pause(self._tp)

    def end_offset(self, timeout_ms: int | None = None) -> int:
        """The offset the next appended record will get (the log's high watermark), from a fetch made by this call."""
        deadline = self._deadline(timeout_ms)
        probe = self._probe_from(self._known_end)
        with self._kafka("reading the end of the log"):
            try:
                while (highwater := probe.highwater(self._tp)) is None:
                    try:
                        probe.poll(timeout_ms=_PROBE_POLL_MS, max_records=1)
                    except kerr.OffsetOutOfRangeError:  # the log is shorter than last seen (Apache Kafka)
                        probe = self._probe_from(self._earliest(probe, deadline))
                    self._check_deadline(deadline, "reading the end of the log")
            finally:
                probe.pause(self._tp)
        return self._saw_end(highwater)

    def earliest_offset(self, timeout_ms: int | None = None) -> int:
        """The offset of the first record the log still holds (0 unless retention deleted records)."""
        deadline = self._deadline(timeout_ms)
        probe = self._probe or self._connect_probe()
        with self._kafka("reading the start of the log"):
            return self._earliest(probe, deadline)

    def close(self) -> None:
        """Release both connections. The reader cannot be used afterwards."""
        self._closed = True
        stream, probe, self._stream, self._probe = self._stream, self._probe, None, None
        for consumer in (stream, probe):
            if consumer is not None:
                consumer.close(autocommit=False, timeout_ms=1000)

    def __enter__(self) -> KafkaLogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _earliest(self, probe: Any, deadline: float) -> int:
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        try:
            return int(probe.beginning_offsets([self._tp], timeout_ms=remaining_ms)[self._tp])
        except kerr.KafkaTimeoutError:
            self._require_topic()  # a missing topic says so; otherwise the timeout is translated
            raise

    def _saw_end(self, highwater: Any) -> int:
        """Record a high watermark. One below the last seen end means a shrunk log, or (on tansu, which
        answers fetches for a missing topic with an empty log) no topic: NotFoundError says which."""
        end = int(highwater)
        if end < self._known_end:
            self._require_topic()
        self._known_end = end
        return end

    def _probe_from(self, offset: int) -> Any:
        """The probe consumer, freshly assigned (no stale high watermark) and positioned at ``offset``."""
        probe = self._probe or self._connect_probe()
        probe.assign([])
        probe.assign([self._tp])
        probe.seek(self._tp, offset)
        return probe

    def _deadline(self, timeout_ms: int | None) -> float:
        wait_s = self.settings.connect_timeout_s if timeout_ms is None else timeout_ms / 1000
        return time.monotonic() + wait_s

    def _check_deadline(self, deadline: float, action: str) -> None:
        """After the deadline: NotFoundError if the topic is gone, else BrokerUnavailableError."""
        if time.monotonic() < deadline:
            return
        self._require_topic()
        raise BrokerUnavailableError(
            f"{action} on topic {self.topic!r}: no answer from {self._servers} in time"
        )

    # --- kafka-python, in one place -----------------------------------------------------------------

    @property
    def _servers(self) -> str:
        return ",".join(self.bootstrap)

    @property
    def _connect_ms(self) -> int:
        return max(1, int(self.settings.connect_timeout_s * 1000))

    def _config(self) -> dict[str, Any]:
        largest = max(self.settings.max_op_bytes, self.settings.batch_bytes) + FRAMING_BYTES
        return {
            "bootstrap_servers": list(self.bootstrap),
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "none",
            "allow_auto_create_topics": False,
            "bootstrap_timeout_ms": self._connect_ms,
            "receive_message_max_bytes": 50 * 1024 * 1024 + largest,
            **self.settings.kafka_security(),
        }

    def _connect_stream(self) -> Any:
        if self._closed:
            raise FailedPreconditionError(f"the Kafka reader for {self.topic!r} is closed")
        self._require_topic()
        with self._kafka("connecting"):
            stream = _open(
                KafkaConsumer,
                fetch_max_wait_ms=max(10, min(self.settings.batch_max_ms, 500)),
                max_poll_records=self.settings.batch_max_ops,
                # Fetch about one projector transaction at a time (a single larger op still comes whole).
                fetch_max_bytes=self.settings.batch_max_bytes,
                max_partition_fetch_bytes=self.settings.batch_max_bytes,
                **self._config(),
            )
        stream.assign([self._tp])
        stream.seek(self._tp, self._position)
        self._stream = stream
        return stream

    def _connect_probe(self) -> Any:
        if self._closed:
            raise FailedPreconditionError(f"the Kafka reader for {self.topic!r} is closed")
        with self._kafka("connecting"):
            self._probe = _open(KafkaConsumer, fetch_max_wait_ms=10, max_partition_fetch_bytes=1, **self._config())
        return self._probe

    def _require_topic(self) -> None:
        """NotFoundError unless the topic exists; TopicConfigError unless it has exactly one partition."""
        with self._kafka("describing the topic"):
            admin = _open(
                KafkaAdminClient,
                bootstrap_servers=list(self.bootstrap),
                bootstrap_timeout_ms=self._connect_ms,
                request_timeout_ms=max(self._connect_ms, 1000),
                **self.settings.kafka_security(),
            )
            try:
                (info,) = admin.describe_topics([self.topic])
            finally:
                admin.close()
            error = kerr.for_code(info["error_code"])
            if error is kerr.UnknownTopicOrPartitionError:
                raise NotFoundError(f"topic {self.topic!r} does not exist on {self._servers}")
            if error is not kerr.NoError:
                raise error(f"describing topic {self.topic!r}")
        if len(info["partitions"]) != 1:
            raise TopicConfigError(
                f"topic {self.topic!r} on {self._servers} has {len(info['partitions'])} partitions; "
                "the log is partition 0 of a single-partition topic"
            )

    @contextmanager
    def _kafka(self, action: str) -> Iterator[None]:
        """The choke point: kafka-python errors raised inside become mlmd-log errors."""
        try:
            yield
        except kerr.KafkaError as err:
            raise self._translate(err, action) from err

    def _translate(self, err: kerr.KafkaError, action: str) -> MlmdLogError:
        where = f"{action} on topic {self.topic!r} at {self._servers}"
        if isinstance(err, (kerr.OffsetOutOfRangeError, kerr.LogTruncationError)):
            return LogRegressionError(
                f"{where}: the broker says offset {self._position} is outside the log ({err}); "
                "the log was truncated, deleted or replaced"
            )
        if isinstance(err, kerr.SaslAuthenticationFailedError):
            return UnauthenticatedError(f"{where}: authentication failed: {err}")
        if isinstance(err, kerr.AuthorizationError):
            return PermissionDeniedError(f"{where}: not authorized: {err}")
        if isinstance(err, kerr.KafkaConfigurationError):
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


def _record(r: Any) -> LogRecord:
    return LogRecord(r.offset, r.timestamp, r.key, r.value if r.value is not None else b"")


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
