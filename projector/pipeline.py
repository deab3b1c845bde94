"""Projecting one batch while the previous one is being stored: Python and DuckDB working at the same time.

A batch has two halves. Deciding its outcomes and building its rows
(:meth:`~mlmd_log.projector.engine.Projector.prepare`) is Python and holds
the GIL; storing them (``BEGIN``, the inserts and updates, ``COMMIT`` with its
WAL write and checkpoints) is DuckDB, which releases the GIL. Run one after the
other, each waits for the other; here a writer thread stores batch N while
the caller's thread prepares batch N+1, so on two cores the DuckDB half mostly
disappears from the wall clock.

Why a batch sees the right state although the batches before it may not be
committed yet: up to ``depth`` batches are in flight, stored in order by one
writer thread. A new batch reads the file through its own cursor, which sees
every batch before the oldest one in flight, and each in-flight batch either
wholly or not at all. Everything an in-flight batch changed is in its carry
(:class:`~mlmd_log.projector.engine.Carry`): each cache entry its ops set, and
its op ids. The new batch starts from those carries, oldest first, so every
key they touched is answered from them, and every other key reads the same in
the file whichever of them are committed. Nothing else is shared: a batch's
statements are built before the next batch begins.

Each batch is still one transaction holding its rows, archive and checkpoint,
so a crash loses or repeats nothing (the batch being stored either committed
or did not, and the next start seeks past the checkpoint). If storing a
batch fails, the batches prepared on top of it are dropped, the projector
forgets what it kept between batches (it rereads the file), and the failure
is raised from the next :meth:`Pipeline.submit` or :meth:`Pipeline.flush`; the
writer stores nothing after a failed batch, since the batches after it were
prepared on top of it.

A dedicated projector also keeps DuckDB's cache in bounds (``cache_mb``):
DuckDB keeps every block it writes cached until its memory limit, so a
projector's RSS would grow with the file. After a commit that leaves DuckDB
holding more than ``cache_mb``, the next :meth:`Pipeline.submit` first waits
for the writer and then has it, with nothing else using DuckDB, lower the
limit to a quarter of ``cache_mb`` for a moment, which makes DuckDB evict
down to that; the limit is then restored, so a transaction
may still use all of it. (DuckDB's vacuum, whose transient memory at each
checkpoint grows with the tables, is off for these files: catalog.py.)
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

import duckdb

from mlmd_log.projector import catalog
from mlmd_log.projector.engine import BatchReport, Carry, Prepared, Projector
from mlmd_log.projector.records import LogRecord
from mlmd_log.transaction import transaction

#: Python's thread switch interval while batches flow (default 5 ms). Each statement the writer runs gives
#: up the GIL inside DuckDB and must take it back from the preparing thread, which holds it for up to this
#: long: at 5 ms the writer spent half its time waiting (a 200k-op replay: 7.2 s of statements vs 2.8 s).
SWITCH_INTERVAL_S: Final = 0.001
#: While batches flow, Python's cyclic collector is held off and run explicitly once every this many batches.
GC_EVERY_BATCHES: Final = 64

_log = logging.getLogger(__name__)


class Pipeline:
    """Feeds batches to a :class:`Projector`, storing each on a writer thread while the next is prepared.

    ``on_stored`` runs on the writer thread after each batch committed, in log order (listeners, progress).
    While a pipeline is open, use the projector only through it; :meth:`close` waits for the last batch.
    ``depth``: batches in flight at most (each holds its rows in memory until stored); more than one lets
    the preparing thread go on through the writer's occasional long commits (DuckDB checkpoints).
    ``cache_mb``: DuckDB memory kept between batches (module docstring); 0 leaves DuckDB's cache alone, as
    a connection that also serves queries wants. ``memory_limit_mb``: the limit a trim restores (0: DuckDB's
    default); None restores the limit read before the trim, which DuckDB shows rounded, so pass it unless it
    is a whole number of MiB.
    """

    def __init__(
        self,
        projector: Projector,
        on_stored: Callable[[Prepared], None] | None = None,
        *,
        depth: int = 1,
        cache_mb: int = 0,
        memory_limit_mb: int | None = None,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        if cache_mb < 0:
            raise ValueError(f"cache_mb must be 0 or more, not {cache_mb}")
        self.projector = projector
        self.on_stored = on_stored
        self.depth = depth
        self._reader = catalog.cursor(projector.con)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlmd-log-writer")
        #: Batches handed to the writer and not yet known committed, oldest first, with their carries.
        self._pending: deque[tuple[Future[None], Carry]] = deque()
        #: Set by the writer thread when a batch failed: it stores nothing after that.
        self._failed = False
        self._gc_was_enabled: bool | None = None
        self._switch_interval: float | None = None
        self._batches = 0
        self._cache_mb = cache_mb
        self._memory_limit_mb = memory_limit_mb
        #: DuckDB memory above which the next batch trims first: ``cache_mb``, or more when a trim could not
        #: get that low (what DuckDB cannot evict is not trimmed again after every batch).
        self._trim_above = cache_mb * 2**20
        #: Set by the writer thread when DuckDB holds more than that after a commit.
        self._trim_due = False
        #: Times DuckDB's cache was trimmed.
        self.trims = 0

    def submit(self, records: Sequence[LogRecord]) -> BatchReport:
        """Prepare ``records`` now and store them on the writer thread; returns the batch's outcomes.

        Waits while ``depth`` batches are in flight. Raises the failure of a batch stored before, if one
        failed (then every batch after it is dropped too).
        """
        self._hold()
        self._reap(block=False)
        if self._trim_due:
            self._reap(block=True)
            self._writer.submit(self._trim).result()
        try:
            prepared = self.projector.prepare(
                records, reader=self._reader, carries=[carry for _, carry in self._pending], keep=True
            )
        except BaseException:
            self._abandon()
            raise
        while len(self._pending) >= self.depth:
            self._reap(block=True, one=True)
        if prepared.records == 0 or prepared.carry is None:
            return prepared.report
        self._pending.append((self._writer.submit(self._store, prepared), prepared.carry))
        return prepared.report

    def flush(self) -> None:
        """Wait until every submitted batch is committed; raise the failure if one failed."""
        try:
            self._reap(block=True)
        finally:
            self._release()

    def close(self) -> None:
        """Flush, then stop the writer thread (the projector's connection stays open)."""
        try:
            self.flush()
        finally:
            self._writer.shutdown(wait=True)
            self._reader.close()

    def _hold(self) -> None:
        """Set the process up for flowing batches (undone by :meth:`_release`), and collect now and then.

        The cyclic collector is held off: with it on, the two batches alive at any moment (one being
        stored, one being prepared: ~10^5 objects each) are walked again and again (gcpause), and
        re-enabling it after each batch costs a walk of the batch still in flight (~8 us per op).
        Projecting makes no cyclic garbage worth more than a collection every :data:`GC_EVERY_BATCHES`.
        """
        if self._gc_was_enabled is None:
            self._gc_was_enabled = gc.isenabled()
            gc.disable()
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._batches += 1
        if self._batches % GC_EVERY_BATCHES == 0:
            gc.collect()

    def _release(self) -> None:
        if self._gc_was_enabled is None:
            return
        if self._gc_was_enabled:
            gc.enable()
        self._gc_was_enabled = None
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)

    def _reap(self, *, block: bool, one: bool = False) -> None:
        """Drop committed batches from the front of the queue (their carries with them); raise a failure.

        ``block``: wait for them (all, or the oldest with ``one``); otherwise only those already done.
        """
        while self._pending:
            future, _ = self._pending[0]
            if not block and not future.done():
                return
            try:
                future.result()
            except BaseException:
                self._abandon()
                raise
            self._pending.popleft()
            if one:
                return

    def _abandon(self) -> None:
        """After a failure: let the writer finish what it holds (it stores nothing more), forget all state."""
        for future, _ in self._pending:
            with contextlib.suppress(BaseException):  # the first failure is the one raised
                future.result()
        self._pending.clear()
        self._failed = False
        self.projector.forget()

    def _trim(self) -> None:
        """Let DuckDB evict its cache below ``cache_mb``; run on the writer thread with nothing in flight.

        DuckDB evicts unpinned blocks when its limit is lowered below what it holds; if it cannot get that
        low, the lowering fails, nothing changed, and projecting goes on.
        """
        self._trim_due = False
        con = self.projector.con
        # The limit to give back: the owner's, or (not given) the one DuckDB shows now.
        restore: tuple[str, list[str]]
        if self._memory_limit_mb is None:
            shown = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
            restore = ("SET memory_limit = ?", [str(shown)])
        elif self._memory_limit_mb > 0:
            restore = ("SET memory_limit = ?", [f"{self._memory_limit_mb}MiB"])
        else:
            restore = ("RESET memory_limit", [])
        # Down to a quarter of the bound, so that the next trims are some batches away (each waits for the writer).
        low = max(1, self._cache_mb // 4)
        try:
            con.execute("SET memory_limit = ?", [f"{low}MiB"])
        except duckdb.Error as exc:
            _log.debug("DuckDB's cache not trimmed to %d MiB: %s", low, exc)
        finally:
            con.execute(*restore)
        self.trims += 1
        floor = _duckdb_memory(con)
        cache = self._cache_mb * 2**20
        self._trim_above = cache if floor <= cache else floor + cache // 2

    def _store(self, prepared: Prepared) -> None:
        if self._failed:  # a batch before this one failed: this one was prepared on top of it
            raise RuntimeError("not stored: an earlier batch of the pipeline failed")
        con = self.projector.con
        try:
            with transaction(con):
                prepared.plan.run(con)
        except BaseException:
            self._failed = True
            raise
        if self._cache_mb:
            self._trim_due = _duckdb_memory(con) > self._trim_above
        if self.on_stored is not None:
            self.on_stored(prepared)


def _duckdb_memory(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes DuckDB's buffer manager holds now (the whole DuckDB instance behind ``con``)."""
    row = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    return int(row[0][0]) if row and row[0][0] is not None else 0
