"""One :class:`~mlmd_log.store.MetadataStore` shared safely by the gRPC server's worker threads.

A DuckDB cursor (and so a :class:`~mlmd_log.query.reader.Reader` over one) must
not be used by two threads at once. The server therefore gives each worker
thread its own :class:`Reader` over its own cursor of the store's database; all
of them share the store's node cache, which the store's projector keeps
coherent (alias changes included: a Reader reloads its alias map when the
cache's alias generation moves). Writes go through the store itself, which is
thread-safe: the embedded log appends under a lock; the Kafka log sends under
one and reads write outcomes under another.
"""

from __future__ import annotations

import contextlib
import threading

import duckdb

from mlmd_log.errors import FailedPreconditionError
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

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for cursor in [*opened, self._root]:
            with contextlib.suppress(duckdb.Error):  # already closed with the store's connection
                cursor.close()


class SharedStore:
    """The store as the server's threads use it: :attr:`store` for writes, :meth:`reader` for reads."""

    def __init__(self, store: MetadataStore) -> None:
        con = getattr(store, "_con", None)
        if not isinstance(con, duckdb.DuckDBPyConnection):
            raise FailedPreconditionError(
                "the gRPC server needs a store with a projection: connect(kafka_url, db=PATH) or duckdb:///PATH"
            )
        self.store = store
        self._cursors = _CursorPool(store.con)
        self._local = threading.local()

    def reader(self) -> Reader:
        """This thread's Reader (created on first use)."""
        found: Reader | None = getattr(self._local, "reader", None)
        if found is None:
            found = Reader(self._cursors.cursor(), self.store.cache, self.store.links)
            self._local.reader = found
        return found

    def close(self) -> None:
        """Close the threads' cursors (the store's owner closes the store)."""
        self._cursors.close()
