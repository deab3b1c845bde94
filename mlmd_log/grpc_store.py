"""One :class:`~mlmd_log.store.MetadataStore` shared safely by the gRPC server's worker threads.

A DuckDB cursor (and so a :class:`~mlmd_log.query.reader.Reader` over one) must
not be used by two threads at once. The server therefore gives each worker
thread its own :class:`Reader` over its own cursor of the store's database; all
of them share the store's node cache, which the store's projector keeps
coherent. Writes go through the store itself (the producer is thread-safe: the
embedded log appends under a lock, the Kafka writer sends under one).

Two workarounds for the Kafka store live here, each replacing a private
attribute of :class:`~mlmd_log.kafka_store.KafkaOpLog` (the library changes that
would remove them are named in ``docs/compatibility.md``):

* ``KafkaOpLog._outcomes`` is one cursor used by every thread that writes with
  ``wait=True``; it becomes a per-thread cursor.
* ``KafkaOpLog._pending`` keeps every future until the next ``sync()``, even
  those a ``wait=True`` call already settled, so a long-running server would
  grow without bound; the server drops the futures its own calls settled.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from typing import Any, cast

import duckdb

from mlmd_log.errors import FailedPreconditionError
from mlmd_log.query.cache import NodeCache
from mlmd_log.query.reader import Reader
from mlmd_log.store import MetadataStore


class _CursorPool:
    """Hands each thread its own cursor of one database; closes them all at the end."""

    def __init__(self, root: duckdb.DuckDBPyConnection) -> None:
        self._root = root.cursor()  # used only to spawn cursors, under the lock
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[duckdb.DuckDBPyConnection] = []
        self._closed = False

    def cursor(self) -> duckdb.DuckDBPyConnection:
        found: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if found is None:
            with self._lock:
                if self._closed:
                    raise FailedPreconditionError("the server is shutting down")
                found = self._root.cursor()
                self._opened.append(found)
            self._local.cursor = found
        return found

    def execute(self, query: str, parameters: Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        """``cursor().execute(...)``: lets the pool stand in for a connection used by many threads."""
        return self.cursor().execute(query, parameters)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for cursor in [*opened, self._root]:
            with contextlib.suppress(duckdb.Error):  # already closed with the store's connection
                cursor.close()


class ThreadReader(Reader):
    """A :class:`Reader` for one worker thread, sharing the store's node cache.

    The id-alias map a Reader keeps is reloaded whenever the projector has
    committed since it was loaded (the cache's generation moves on every
    commit), because only the store's own Reader hears about new aliases.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, cache: NodeCache | None) -> None:
        super().__init__(con, cache)
        self._alias_generation = -1

    def _current_aliases(self, kind: str) -> dict[int, int]:
        generation = self.cache.generation if self.cache is not None else -1
        if generation != self._alias_generation or generation == -1:
            self._alias_map = None
            self._alias_generation = generation
        return super()._current_aliases(kind)


class _PendingList(list[Any]):
    """``KafkaOpLog._pending`` that forgets the futures the server's own ``wait=True`` calls settled."""

    def __init__(self, items: Iterable[Any]) -> None:
        super().__init__(items)
        self._local = threading.local()
        self._lock = threading.Lock()

    def append(self, item: Any) -> None:
        with self._lock:
            super().append(item)
        self._local.last = item

    def forget_mine(self) -> None:
        """Drop the future this thread appended last (its call has settled it, applied or rejected)."""
        item = getattr(self._local, "last", None)
        self._local.last = None
        if item is None:
            return
        with self._lock:
            for i in range(len(self) - 1, -1, -1):
                if self[i] is item:
                    del self[i]
                    break


class SharedStore:
    """The store as the server's threads use it: :meth:`reader` for reads, :meth:`settled` after each write."""

    def __init__(self, store: MetadataStore) -> None:
        con = getattr(store, "_con", None)
        if not isinstance(con, duckdb.DuckDBPyConnection):
            raise FailedPreconditionError(
                "the gRPC server needs a store with a projection: connect(kafka_url, db=PATH) or duckdb:///PATH"
            )
        self.store = store
        self._cursors = _CursorPool(store.con)
        self._outcomes: _CursorPool | None = None
        self._local = threading.local()
        self._log: Any = cast(Any, store._log)  # KafkaOpLog or EmbeddedLog: private attributes below
        self._shared_outcomes: Any = getattr(self._log, "_outcomes", None)
        if self._shared_outcomes is not None:
            self._outcomes = _CursorPool(store.con)
            self._log._outcomes = self._outcomes
        pending = getattr(self._log, "_pending", None)
        self._owns_pending = False
        if isinstance(pending, list) and not isinstance(pending, _PendingList):
            self._log._pending = _PendingList(pending)
            self._owns_pending = True

    def reader(self) -> Reader:
        """This thread's Reader (created on first use)."""
        found: Reader | None = getattr(self._local, "reader", None)
        if found is None:
            found = ThreadReader(self._cursors.cursor(), self.store.cache)
            self._local.reader = found
        return found

    def settled(self) -> None:
        """Call after each ``wait=True`` write (success or error): its future needs no later ``sync()``."""
        pending = getattr(self._log, "_pending", None)
        if isinstance(pending, _PendingList):
            pending.forget_mine()
        elif isinstance(pending, list) and self._log is not None:  # sync() replaced it with a plain list
            self._log._pending = _PendingList(pending)

    def close(self) -> None:
        """Close the threads' cursors and give the store back as it was (its owner closes the store)."""
        if self._outcomes is not None:
            self._log._outcomes = self._shared_outcomes
            self._outcomes.close()
        pending = getattr(self._log, "_pending", None)
        if self._owns_pending and isinstance(pending, _PendingList):
            self._log._pending = list(pending)
        self._cursors.close()
