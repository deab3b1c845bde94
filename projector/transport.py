"""The projector's Kafka transport: read partition 0 of one topic from a given offset, as LogRecords.

The log reader: one of the two users of :mod:`mlmd_log.kafka` (the client
factory, error translation and topic administration), and with it and the log
writer the only modules that import ``kafka``. It connects lazily. There is no consumer
group: the projector keeps its own checkpoint in DuckDB, so the reader is
``assign()``-ed to partition 0 and ``seek()``-s to the offset it is given
(group joins also block for half of ``session_timeout_ms`` on tansu). Every
kafka-python error is translated at one point (:meth:`mlmd_log.kafka.KafkaEndpoint.translating`).

Offsets, as measured against tansu 0.6.0, Apache Kafka 3.9.1 and 4.4.0, and kafka-python 3.0.12.
The reader asks the broker once whether it reports every topic setting (Apache Kafka does; tansu
reports only those given at creation) and uses the fallbacks below only for a broker that does not:

* ``KafkaConsumer.end_offsets()`` (ListOffsets LATEST) is right on Apache Kafka and wrong on tansu: it
  answers the *base offset of the last record batch* + 1, so after one batch of
  10 records it says 1, not 10. On tansu the end of the log is therefore read from a
  fetch response's high watermark (``consumer.highwater()``);
  :meth:`KafkaLogReader.end_offset` issues that
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
  offsets in :attr:`KafkaLogReader.skipped`. Apache Kafka makes offsets visible only once stored and
  leaves holes only where a transaction marker or compaction took offsets, so there a hole is passed at
  once (counted, logged), and a marker never stalls the projector.
* Replay to a time: ``offsets_for_times`` (ListOffsets by timestamp) on Apache Kafka
  (:meth:`KafkaLogReader.offset_after_time`); on tansu the replay scans record times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Final

import kafka.errors as kerr
from kafka import KafkaConsumer, TopicPartition

from mlmd_log.errors import (
    BrokerUnavailableError,
    ConfigError,
    FailedPreconditionError,
    LogRegressionError,
    MlmdLogError,
)
from mlmd_log.kafka import KafkaEndpoint, TopicAdmin
from mlmd_log.projector.records import LogRecord
from mlmd_log.settings import Settings

#: Room above the largest op for record, batch and fetch-response framing.
FRAMING_BYTES: Final = 1024 * 1024
#: Per-poll wait inside the probe loops, so deadlines are kept closely.
_PROBE_POLL_MS: Final = 20
#: Pause before asking again for the records of a hole (module docstring), so waiting is not a busy loop.
_HOLE_RETRY_S: Final = 0.01
#: A fetch's longest wait on brokers that hold it to the end even when records arrive (tansu).
_SHORT_FETCH_WAIT_MS: Final = 5

_log = logging.getLogger(__name__)


class KafkaLogReader:
    """Reads ``topic`` partition 0 from the brokers ``bootstrap`` (``host:port`` each), in offset order."""

    def __init__(self, settings: Settings, bootstrap: Sequence[str], topic: str) -> None:
        self._endpoint = KafkaEndpoint(settings, bootstrap, topic)
        self._topics = TopicAdmin(self._endpoint)
        self.settings = settings
        self.bootstrap = self._endpoint.bootstrap
        self.topic = self._endpoint.topic
        #: Whether the broker's ListOffsets and offset assignment are Apache Kafka's (module docstring).
        self._exact: bool | None = None
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
        if waited * 1000 < self.settings.log_gap_wait_ms and not self._exact:
            stream.seek(self._tp, expected)
            time.sleep(_HOLE_RETRY_S)
            return []
        missing = records[0].offset - expected
        self.skipped += missing
        if self._exact:  # a transaction marker or compacted records: nothing will ever be there
            _log.info("topic %r has no records at offsets %d..%d (control records); going on past them",
                      self.topic, expected, records[0].offset - 1)
        else:
            _log.warning(
                "topic %r holds no records at offsets %d..%d after %.1f s (log_gap_wait_ms); going on past "
                "them (%d offsets skipped so far)", self.topic, expected, records[0].offset - 1, waited,
                self.skipped,
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
        self._is_exact()
        probe = self._probe_from(offset)
        with self._kafka(f"reading offset {offset}"):
            try:
                while True:
                    records = probe.poll(timeout_ms=_PROBE_POLL_MS, max_records=1).get(self._tp)
                    if records:
                        first = records[0]
                        return _record(first) if first.offset == offset else None
                    # Apache Kafka: ListOffsets (a fetch session omits an unchanged partition, so a re-assigned
                    # probe may never see a high watermark); tansu: the fetch's high watermark (module docstring).
                    highwater = self._list_end(deadline) if self._exact else probe.highwater(self._tp)
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
        if self._is_exact():
            return self._saw_end(self._list_end(deadline))
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

    def offset_after_time(self, time_ms: int, timeout_ms: int | None = None) -> int | None:
        """The first offset whose record time is after ``time_ms`` (the log's end if none is), from the broker's
        time index (``offsets_for_times``); None where the broker's answer is not to be trusted (tansu)."""
        if not self._is_exact():
            return None
        deadline = self._deadline(timeout_ms)
        probe = self._probe or self._connect_probe()
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        with self._kafka("finding an offset by time"):
            found = probe.offsets_for_times({self._tp: time_ms + 1}, timeout_ms=remaining_ms)[self._tp]
        return int(found.offset) if found is not None else self.end_offset(timeout_ms)

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

    def _is_exact(self) -> bool:
        if self._exact is None:
            self._exact = self._topics.reports_every_setting()
        return self._exact

    def _list_end(self, deadline: float) -> int:
        """The end of the log from ListOffsets LATEST (Apache Kafka), on the probe consumer."""
        probe = self._probe or self._connect_probe()
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        with self._kafka("reading the end of the log"):
            try:
                return int(probe.end_offsets([self._tp], timeout_ms=remaining_ms)[self._tp])
            except kerr.KafkaTimeoutError:
                self._require_topic()
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

    # --- kafka-python, through mlmd_log.kafka ---------------------------------------------------------

    @property
    def _servers(self) -> str:
        return self._endpoint.servers

    def _config(self) -> dict[str, Any]:
        largest = max(self.settings.max_op_bytes, self.settings.batch_bytes) + FRAMING_BYTES
        return {
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "none",
            "allow_auto_create_topics": False,
            "receive_message_max_bytes": 50 * 1024 * 1024 + largest,
        }

    def _connect_stream(self) -> Any:
        if self._closed:
            raise FailedPreconditionError(f"the Kafka reader for {self.topic!r} is closed")
        self._require_topic()
        # Apache Kafka answers a waiting fetch as soon as a record arrives, so the wait only bounds an idle
        # poll; tansu holds it for the whole wait, which a writer waiting for its op would pay (half of it on
        # average), so there the fetch waits only briefly.
        fetch_wait_ms = max(10, min(self.settings.batch_max_ms, 500)) if self._is_exact() else _SHORT_FETCH_WAIT_MS
        with self._kafka("connecting"):
            stream = self._endpoint.open(
                KafkaConsumer,
                fetch_max_wait_ms=fetch_wait_ms,
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
            self._probe = self._endpoint.open(
                KafkaConsumer, fetch_max_wait_ms=10, max_partition_fetch_bytes=1, **self._config()
            )
        return self._probe

    def _require_topic(self) -> None:
        """NotFoundError unless the topic exists; TopicConfigError unless it has exactly one partition."""
        self._topics.require_single_partition()

    def _kafka(self, action: str) -> AbstractContextManager[None]:
        """The choke point (:meth:`KafkaEndpoint.translating`): kafka-python errors become mlmd-log errors."""
        return self._endpoint.translating(action, self._regression)

    def _regression(self, err: kerr.KafkaError, where: str) -> MlmdLogError | None:
        """The reader's own translation: the broker says the position lies outside the log."""
        if isinstance(err, kerr.OffsetOutOfRangeError | kerr.LogTruncationError):
            return LogRegressionError(
                f"{where}: the broker says offset {self._position} is outside the log ({err}); "
                "the log was truncated, deleted or replaced"
            )
        return None


def _record(r: Any) -> LogRecord:
    return LogRecord(r.offset, r.timestamp, r.key, r.value if r.value is not None else b"")
