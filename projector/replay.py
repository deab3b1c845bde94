"""Rebuild a projection in a new database by applying a log again from its start, up to a position or a time.

The log is the truth (docs/design.md, invariant 1): projecting it again into an empty
database gives the same tables as the live projection. Two sources serve:
the Kafka topic itself (:class:`~mlmd_log.projector.transport.KafkaLogReader`)
and a projection's op archive (:class:`ArchiveSource`), a faithful copy of
every record the projector consumed (position, record time, bytes).

Where to stop:

* ``up_to``: the last log position to apply (inclusive); a position past the
  log's end is an ``OutOfRangeError`` before anything is applied.
* ``up_to_time_ms``: apply every op whose *log time* is <= the time, where the
  log time of a position is the running maximum of the record times up to it
  (the ``log_time_ms`` of ``op_archive``, the time ``as_of`` uses). Because
  it only grows, those ops are a prefix of the log: replay stops before the
  first record whose record time is later. The result is the store
  ``as_of=that time`` reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import duckdb

from mlmd_log.errors import DeadlineExceededError, OutOfRangeError
from mlmd_log.projector.engine import Prepared, Projector
from mlmd_log.projector.logtable import read_records
from mlmd_log.projector.loop import LogSource, split_by_bytes
from mlmd_log.projector.pipeline import Pipeline
from mlmd_log.projector.records import LogRecord

#: Records per transaction, and a byte budget per transaction (at least one record each).
BATCH_RECORDS: Final = 5_000
BATCH_BYTES: Final = 64 * 1024 * 1024
#: How long a source may deliver nothing before a replay that has not reached its target gives up.
IDLE_TIMEOUT_S: Final = 60.0
_POLL_MS: Final = 500


@dataclass(frozen=True, slots=True)
class ReplayProgress:
    """Where a replay is: records applied, the last position applied, and the position it will stop at."""

    records: int
    position: int
    target: int


class ArchiveSource:
    """A :class:`~mlmd_log.projector.loop.LogSource` over the ``op_archive`` of a projection (read only)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._next = 0

    def seek(self, offset: int) -> None:
        self._next = offset

    def poll_batch(self, max_records: int, timeout_ms: int) -> list[LogRecord]:
        records = read_records(self.con, "op_archive", self._next, max_records)
        if records:
            self._next = records[-1].offset + 1
        return records

    def read_at(self, offset: int) -> LogRecord | None:
        row = self.con.execute(
            "SELECT position, record_time_ms, bytes FROM op_archive WHERE position = ?", [offset]
        ).fetchone()
        return None if row is None else LogRecord(row[0], row[1], None, row[2] if row[2] is not None else b"")

    def end_offset(self) -> int:
        row = self.con.execute("SELECT coalesce(max(position), -1) + 1 FROM op_archive").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """The connection belongs to the caller."""


def replay(
    source: LogSource,
    target: duckdb.DuckDBPyConnection,
    *,
    up_to: int | None = None,
    up_to_time_ms: int | None = None,
    batch: int = BATCH_RECORDS,
    batch_bytes: int = BATCH_BYTES,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    progress: Callable[[ReplayProgress], None] | None = None,
) -> ReplayProgress:
    """Project ``source`` into ``target`` from ``target``'s checkpoint + 1 to the stop (see the module docstring).

    Stops at the log's end as it was when the replay started, or earlier at ``up_to`` or
    ``up_to_time_ms``; one transaction per batch, so an interrupted replay resumes where it stopped.
    Batches are stored on a writer thread while the next is prepared (:mod:`~mlmd_log.projector.pipeline`);
    ``progress`` is called from that thread after each commit. Returns where it stopped.
    """
    projector = Projector(target)
    start = projector.checkpoint().position
    end = source.end_offset() - 1
    if up_to is not None and up_to > end:
        raise OutOfRangeError(f"cannot replay up to position {up_to}: the log ends at position {end}")
    stop = end if up_to is None else up_to
    last = start
    source.seek(start + 1)
    idle_since = time.monotonic()
    finished = start >= stop
    counted = [0]

    def stored(prepared: Prepared) -> None:  # on the writer thread, in log order
        counted[0] += prepared.records
        if progress is not None:
            progress(ReplayProgress(counted[0], prepared.checkpoint.position, stop))

    # One batch in flight and DuckDB's own threads: at 1M ops two in flight or one DuckDB thread are no faster,
    # since the duplicate check and the commits slow down beside them (ADR 0003).
    pipeline = Pipeline(projector, stored)
    try:
        while not finished:
            records = source.poll_batch(batch, _POLL_MS)
            if not records:
                if time.monotonic() - idle_since > idle_timeout_s:
                    raise DeadlineExceededError(
                        f"the log delivered nothing for {idle_timeout_s:g} s at position {last + 1} "
                        f"(replay target {stop})"
                    )
                continue
            idle_since = time.monotonic()
            keep = [r for r in records if r.offset <= stop]
            if up_to_time_ms is not None:
                late = next((i for i, r in enumerate(keep) if r.timestamp_ms > up_to_time_ms), None)
                if late is not None:  # the time is passed: nothing from this record on is applied
                    keep, finished = keep[:late], True
            for chunk in split_by_bytes(keep, batch_bytes):
                pipeline.submit(chunk)
                last = chunk[-1].offset
            finished = finished or records[-1].offset >= stop
    finally:
        pipeline.close()
    return ReplayProgress(counted[0], last, stop)


def replay_archive(
    source: duckdb.DuckDBPyConnection,
    target: duckdb.DuckDBPyConnection,
    *,
    up_to: int | None = None,
    batch: int = BATCH_RECORDS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Project ``source``'s op archive (up to ``up_to``, inclusive) into ``target``; returns records applied."""
    report = (lambda p: progress(p.records)) if progress is not None else None
    return replay(ArchiveSource(source), target, up_to=up_to, batch=batch, progress=report).records
