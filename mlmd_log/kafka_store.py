"""A store over Kafka: ops go to the topic; with ``db`` a replica projector in this process keeps a DuckDB file.

Writes never wait for the projector unless asked (``wait=True`` or
:meth:`sync`); then they wait for the replica to pass the op's offset and raise
its rejection with MLMD's error class (ADR 0001).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import duckdb

from mlmd_log.database import open_duckdb, store_threads
from mlmd_log.producer.transport import KafkaLogWriter, SendFuture
from mlmd_log.projector.loop import ProjectorLoop
from mlmd_log.query.outcomes import first_rejection, type_ids_by_key
from mlmd_log.settings import Settings
from mlmd_log.urls import KafkaLogUrl


class KafkaOpLog:
    """:class:`~mlmd_log.producer.log.OpLog` over a Kafka topic, optionally paired with a replica projector."""

    def __init__(
        self, writer: KafkaLogWriter, replica: ProjectorLoop | None, settings: Settings,
        outcomes: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.writer = writer
        self.replica = replica
        self.settings = settings
        self._outcomes = outcomes
        self._outcomes_lock = threading.Lock()  # one cursor, any thread
        self._pending: list[SendFuture] = []  # appended without wait, not yet reported by sync()
        self._pending_lock = threading.Lock()
        self._waited = threading.local()  # (op_id, position) of this thread's last append with wait=True

    def append(self, op_id: str, data: bytes, *, wait: bool = False) -> SendFuture:
        future = self.writer.send(data, op_id=op_id, urgent=wait)  # a waiting caller does not linger
        if wait:
            self._settle([future], self.settings.delivery_timeout_s)  # reported here, so not pending
        else:
            with self._pending_lock:
                self._pending.append(future)
        return future

    def lease(self, op_id: str, data: bytes) -> int:
        return self.writer.send(data, op_id=op_id, urgent=True).position(self.settings.delivery_timeout_s)

    def _settle(self, futures: list[SendFuture], timeout: float | None) -> None:
        last = max(f.position(timeout) for f in futures)
        self._waited.last = (futures[-1].op_id, last)
        if self.replica is None or self._outcomes is None:
            return
        self.replica.wait_for(last, timeout)
        with self._outcomes_lock:
            error = first_rejection(self._outcomes, [f.op_id for f in futures])
        if error is not None:
            raise error

    def type_ids(self, keys: Sequence[tuple[str, str, str | None]]) -> list[int]:
        if self._outcomes is not None:
            with self._outcomes_lock:
                return type_ids_by_key(self._outcomes, keys)
        return self._scratch_type_ids(keys)

    def _scratch_type_ids(self, keys: Sequence[tuple[str, str, str | None]]) -> list[int]:
        """A write-only store projects the topic up to its type op into memory and reads the ids there.

        Types are registered rarely (once per process, typically before anything else), and a producer
        without a projection has no other way to learn an id the log decides. The cost grows with the log.
        """
        from mlmd_log.projector.transport import KafkaLogReader

        op_id, position = self._waited.last
        con = duckdb.connect(":memory:")
        source = KafkaLogReader(self.settings, list(self.writer.bootstrap), self.writer.topic)
        loop = ProjectorLoop(con.cursor(), source, self.settings)
        try:
            loop.start()
            loop.wait_for(position, self.settings.delivery_timeout_s)
            error = first_rejection(con, [op_id])
            if error is not None:
                raise error
            return type_ids_by_key(con, keys)
        finally:
            loop.stop()
            con.close()

    def sync(self, timeout: float | None = None) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, []
        self.writer.flush(timeout if timeout is not None else self.settings.delivery_timeout_s)
        if pending:
            self._settle(pending, timeout if timeout is not None else self.settings.delivery_timeout_s)

    def start(self) -> None:
        """Start the replica projector (when there is one)."""
        if self.replica is not None:
            self.replica.start()

    def close(self, timeout: float | None = None) -> None:
        try:
            self.writer.close(timeout if timeout is not None else self.settings.delivery_timeout_s)
        finally:
            if self.replica is not None:
                self.replica.stop()


def open_kafka_log(
    url: KafkaLogUrl, db: str | None, settings: Settings
) -> tuple[KafkaOpLog, duckdb.DuckDBPyConnection | None]:
    """The log for ``connect()`` of a ``kafka://`` URL, the topic ensured, and with ``db`` the opened file.

    With ``db`` the log holds a replica projector into it, not yet started: the caller subscribes its reader
    to the replica's commits, then calls :meth:`KafkaOpLog.start`.
    """
    from mlmd_log.projector.transport import KafkaLogReader

    writer = KafkaLogWriter(settings, list(url.bootstrap), url.topic)
    writer.ensure_topic()
    if db is None:
        return KafkaOpLog(writer, None, settings), None
    con = open_duckdb(db, settings)
    store_threads(con, settings)
    source = KafkaLogReader(settings, list(url.bootstrap), url.topic)
    try:
        replica = ProjectorLoop(con.cursor(), source, settings)
        return KafkaOpLog(writer, replica, settings, con.cursor()), con
    except BaseException:
        source.close()
        writer.close(settings.delivery_timeout_s)
        con.close()
        raise
