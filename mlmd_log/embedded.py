"""The embedded log: ops kept in the ``log_ops`` table of the DuckDB file, applied as they are appended.

For notebooks and single users (MLMD's SQLite mode): no broker. Each append
runs the same projector core as the Kafka path, in one DuckDB transaction that
holds the log row, the projected rows, the archive and the checkpoint. A
rejected op rolls the whole transaction back and raises at the call, so the
log never holds it. Record times come from this process's clock at append,
exactly as a broker stamps records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from mlmd_log.errors import StatusError
from mlmd_log.projector.ddl import LOG_TABLE, drop_projection
from mlmd_log.projector.engine import BatchReport, Projector
from mlmd_log.projector.logtable import read_records
from mlmd_log.projector.records import LogRecord
from mlmd_log.query.outcomes import type_ids_by_key
from mlmd_log.transaction import transaction


@dataclass(frozen=True, slots=True)
class EmbeddedReceipt:
    op_id: str
    at: int

    def position(self, timeout: float | None = None) -> int:
        return self.at


class EmbeddedLog:
    """An :class:`~mlmd_log.producer.log.OpLog` inside a DuckDB file, projected synchronously."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, clock_ms: Callable[[], int] | None = None
    ) -> None:
        self.con = con
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._lock = threading.Lock()
        #: Called after each committed append (e.g. to invalidate a read cache).
        self.listeners: list[Callable[[BatchReport], None]] = []
        con.execute(LOG_TABLE)
        self.projector = Projector(con)
        row = con.execute("SELECT coalesce(max(position), -1) + 1 FROM log_ops").fetchone()
        self._next = int(row[0]) if row else 0
        if self.projector.checkpoint().position < self._next - 1:
            self.catch_up()

    def append(self, op_id: str, data: bytes, *, wait: bool = False) -> EmbeddedReceipt:
        with self._lock:
            position = self._next
            record = LogRecord(position, self._clock_ms(), None, data)
            with transaction(self.con, on_rollback=self.projector.forget):
                self.con.execute(
                    "INSERT INTO log_ops VALUES (?, ?, ?)", [position, record.timestamp_ms, data]
                )
                report = self.projector.apply([record], fresh_op_ids=True)
                error: StatusError | None = report.outcomes[0].error if report.outcomes else None
                if error is not None:
                    raise error
            self._next = position + 1
            for listener in self.listeners:
                listener(report)
            return EmbeddedReceipt(op_id, position)

    def lease(self, op_id: str, data: bytes) -> int:
        return self.append(op_id, data).at

    def type_ids(self, keys: Sequence[tuple[str, str, str | None]]) -> list[int]:
        with self._lock:
            return type_ids_by_key(self.con, keys)

    def sync(self, timeout: float | None = None) -> None:
        """Nothing to wait for: every append was applied before it returned."""

    def close(self, timeout: float | None = None) -> None:
        """The connection belongs to the store, which closes it."""

    def catch_up(self, batch: int = 5_000) -> int:
        """Apply ops in ``log_ops`` beyond the checkpoint (after a replay or a crash mid-way); returns how many."""
        done = 0
        while True:
            after = self.projector.checkpoint().position
            records = read_records(self.con, "log_ops", after + 1, batch)
            if not records:
                return done
            self.projector.project(records)
            done += len(records)

    def replay(self) -> int:
        """Drop the projection and rebuild it from ``log_ops``; returns the number of ops re-applied."""
        with self._lock:
            with transaction(self.con):
                drop_projection(self.con)
            self.projector = Projector(self.con)
            return self.catch_up()
