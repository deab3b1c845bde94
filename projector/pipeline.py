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
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

from mlmd_log.projector import catalog
from mlmd_log.projector.engine import BatchReport, Carry, Prepared, Projector
from mlmd_log.projector.records import LogRecord

#: Python's thread switch interval while batches flow (default 5 ms). Each statement the writer runs gives
#: up the GIL inside DuckDB and must take it back from the preparing thread, which holds it for up to this
#: long: at 5 ms the writer spent half its time waiting (a 200k-op replay: 7.2 s of statements vs 2.8 s).
SWITCH_INTERVAL_S: Final = 0.001
#: While batches flow, Python's cyclic collector is held off and run explicitly once every this many batches.
GC_EVERY_BATCHES: Final = 64


class Pipeline:
    """Feeds batches to a :class:`Projector`, storing each on a writer thread while the next is prepared.

    ``on_stored`` runs on the writer thread after each batch committed, in log order (listeners, progress).
    While a pipeline is open, use the projector only through it; :meth:`close` waits for the last batch.
    ``depth``: batches in flight at most (each holds its rows in memory until stored); more than one lets
    the preparing thread go on through the writer's occasional long commits (DuckDB checkpoints).
    """

    def __init__(
        self,
        projector: Projector,
        on_stored: Callable[[Prepared], None] | None = None,
        *,
        depth: int = 1,
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
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

    def submit(self, records: Sequence[LogRecord]) -> BatchReport:
        """Prepare ``records`` now and store them on the writer thread; returns the batch's outcomes.

        Waits while ``depth`` batches are in flight. Raises the failure of a batch stored before, if one
        failed (then every batch after it is dropped too).
        """
        self._hold()
        self._reap(block=False)
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

    def _store(self, prepared: Prepared) -> None:
        if self._failed:  # a batch before this one failed: this one was prepared on top of it
            raise RuntimeError("not stored: an earlier batch of the pipeline failed")
        con = self.projector.con
        con.execute("BEGIN TRANSACTION")
        try:
            prepared.plan.run(con)
            con.execute("COMMIT")
        except BaseException:
            self._failed = True
            con.execute("ROLLBACK")
            raise
        if self.on_stored is not None:
            self.on_stored(prepared)
