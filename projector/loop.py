"""The projector's loop over Kafka: seek past the checkpoint, poll micro-batches, project each in one transaction.

Exactly once: the consumed position is committed with the rows (engine), and
on start the loop seeks to checkpoint + 1 with ``assign()``/``seek()``, never
consumer-group commits. Before consuming it checks that the log still holds
what the projection has applied (the op at the checkpoint), and stops with
:class:`~mlmd_log.errors.LogRegressionError` otherwise, changing nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import duckdb

from mlmd_log.errors import DeadlineExceededError, LogRegressionError
from mlmd_log.projector.decode import decode
from mlmd_log.projector.engine import BatchReport, Prepared, Projector
from mlmd_log.projector.gcpause import gc_paused
from mlmd_log.projector.pipeline import Pipeline
from mlmd_log.projector.records import LogRecord
from mlmd_log.schemas.v1 import ops_pb2
from mlmd_log.settings import Settings


def split_by_bytes(records: list[LogRecord], max_bytes: int) -> list[list[LogRecord]]:
    """Split polled records into transactions of at most ``max_bytes`` of ops (at least one op each)."""
    out: list[list[LogRecord]] = []
    current: list[LogRecord] = []
    size = 0
    for record in records:
        if current and size + len(record.value) > max_bytes:
            out.append(current)
            current, size = [], 0
        current.append(record)
        size += len(record.value)
    if current:
        out.append(current)
    return out


class LogSource(Protocol):
    """What the loop needs from a log reader (the Kafka transport implements it)."""

    def seek(self, offset: int) -> None: ...

    def poll_batch(self, max_records: int, timeout_ms: int) -> list[LogRecord]: ...

    def read_at(self, offset: int) -> LogRecord | None: ...

    def end_offset(self) -> int: ...

    def close(self) -> None: ...


class ProjectorLoop:
    """Runs a :class:`Projector` over a :class:`LogSource`; other threads may wait for a position."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, source: LogSource, settings: Settings, *, cache_mb: int = 0
    ) -> None:
        self.projector = Projector(con)
        self.source = source
        self.settings = settings
        #: DuckDB memory kept between transactions (see :mod:`~mlmd_log.projector.pipeline`); 0 (the
        #: default, for a connection that also serves queries) leaves DuckDB's cache alone.
        self.cache_mb = cache_mb
        #: Times DuckDB's cache was trimmed down to ``cache_mb``.
        self.cache_trims = 0
        self._cond = threading.Condition()
        self._position = self.projector.checkpoint().position
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Called after each committed transaction (e.g. to invalidate a read cache).
        self.listeners: list[Callable[[BatchReport], None]] = []

    @property
    def position(self) -> int:
        return self._position

    def check_regression(self) -> None:
        """Stop (raise) when the log no longer holds the op the checkpoint says was applied there."""
        cp = self.projector.checkpoint()
        if cp.position < 0:
            return
        record = self.source.read_at(cp.position)
        if record is None:
            raise LogRegressionError(
                f"the projection has applied the log up to position {cp.position}, but the log now ends before "
                "it (was the broker restarted with in-memory storage, or the topic recreated?). Nothing was "
                "changed; replay into a new DuckDB file, or point at the right topic."
            )
        if cp.op_id is not None:
            op = decode(record.value)
            found = op.op_id if isinstance(op, ops_pb2.Operation) else None
            if found != cp.op_id:
                raise LogRegressionError(
                    f"the log holds op {found!r} at position {cp.position}, but the projection applied op "
                    f"{cp.op_id!r} there: this is a different log. Nothing was changed."
                )

    def step(self) -> BatchReport | None:
        """Poll one micro-batch and project it; None when nothing arrived."""
        records = self.source.poll_batch(self.settings.batch_max_ops, self.settings.batch_max_ms)
        if not records:
            return None
        # The step's report keeps outcomes and counts only: each transaction's rows go to the listeners and
        # are let go, so memory stays bounded by one transaction whatever the backlog.
        report = BatchReport()
        for chunk in split_by_bytes(records, self.settings.batch_max_bytes):
            with gc_paused():  # until the transaction's report is let go (see gcpause)
                done = self.projector.project(chunk)
                report.outcomes.extend(done.outcomes)
                report.rows += done.rows
                report.aliases |= done.aliases
                report.types |= done.types
                for listener in self.listeners:
                    listener(done)
                del done
            with self._cond:
                self._position = chunk[-1].offset
                self._cond.notify_all()
        return report

    def run(
        self, *, until_caught_up: bool = False, on_batch: Callable[[BatchReport | None], None] | None = None
    ) -> None:
        """Project until stopped (or, with ``until_caught_up``, until the log's end when the loop started).

        Transactions are stored on a writer thread while the next is prepared
        (:mod:`~mlmd_log.projector.pipeline`); listeners and :meth:`wait_for` hear of each after its commit.
        ``on_batch`` is called after every poll: with the batch's outcomes (decided, perhaps not yet
        committed), or None when nothing arrived (by then everything polled before is committed).
        """
        self.check_regression()
        self.source.seek(self._position + 1)
        target = self.source.end_offset() - 1 if until_caught_up else None
        if target is not None and self._position >= target:
            return
        pipeline = Pipeline(
            self.projector, self._stored, cache_mb=self.cache_mb, memory_limit_mb=self.settings.db_memory_mb
        )
        try:
            while not self._stop.is_set():
                records = self.source.poll_batch(self.settings.batch_max_ops, self.settings.batch_max_ms)
                if not records:
                    pipeline.flush()  # idle: commit what is in flight, and give the collector back
                    if on_batch is not None:
                        on_batch(None)
                    continue
                report = BatchReport()
                for chunk in split_by_bytes(records, self.settings.batch_max_bytes):
                    done = pipeline.submit(chunk)
                    report.outcomes.extend(done.outcomes)
                    report.rows += done.rows
                    report.aliases |= done.aliases
                    report.types |= done.types
                if on_batch is not None:
                    on_batch(report)
                if target is not None and records[-1].offset >= target:
                    return
        finally:
            try:
                pipeline.close()
            finally:
                self.cache_trims += pipeline.trims

    def _stored(self, prepared: Prepared) -> None:
        """After a transaction committed (on the pipeline's writer thread): listeners, then waiters."""
        for listener in self.listeners:
            listener(prepared.report)
        with self._cond:
            self._position = prepared.checkpoint.position
            self._cond.notify_all()

    def lag(self) -> int:
        """Ops in the log not yet projected (asks the broker for the log's end)."""
        return max(0, self.source.end_offset() - 1 - self._position)

    def request_stop(self) -> None:
        """Ask :meth:`run` to return after the transaction in progress (safe from a signal handler)."""
        self._stop.set()

    def start(self) -> None:
        """Run in a background thread (a replica inside a store); failures reach :meth:`wait_for`."""
        self.check_regression()

        def body() -> None:
            try:
                self.run()
            except BaseException as err:
                with self._cond:
                    self._failure = err
                    self._cond.notify_all()

        self._thread = threading.Thread(target=body, name="mlmd-log-projector", daemon=True)
        self._thread.start()

    def wait_for(self, position: int, timeout: float | None) -> None:
        """Block until ``position`` is projected; raise the loop's failure or DeadlineExceededError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._position < position:
                if self._failure is not None:
                    raise self._failure
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise DeadlineExceededError(
                        f"the projection reached position {self._position}, not {position}, within {timeout} s"
                    )
                self._cond.wait(remaining if remaining is not None else 0.5)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.source.close()
