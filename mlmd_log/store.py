"""The public store: :func:`connect` and :class:`MetadataStore` (MLMD's write and read API in one object).

Composes a producer over a log (embedded or Kafka) with a reader over the
DuckDB projection. The only module that opens DuckDB files; DuckDB's lock
error becomes :class:`~mlmd_log.errors.DatabaseLockedError` here.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import duckdb

from mlmd_log.embedded import EmbeddedLog
from mlmd_log.errors import DatabaseLockedError, InvalidArgumentError, NotFoundError, UnimplementedError
from mlmd_log.producer.api import Producer
from mlmd_log.projector import catalog
from mlmd_log.projector.engine import BatchReport
from mlmd_log.query.cache import NodeCache
from mlmd_log.query.reader import Reader
from mlmd_log.settings import Settings
from mlmd_log.urls import DuckDBLogUrl, parse_log_url


def open_duckdb(
    path: str, settings: Settings | None = None, *, row_group_size: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open (creating) the DuckDB file at ``path``, translating a held lock into a typed, explained error.

    DuckDB's memory is capped at ``settings.db_memory_mb`` (``settings`` default: read from the environment).
    ``row_group_size``: write the file's new row groups at that size (:mod:`~mlmd_log.projector.catalog`;
    replay uses it); its cursors must then come from :func:`mlmd_log.projector.catalog.cursor`.
    """
    if path != ":memory:":
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
    return _connect(path, read_only=False, settings=settings, row_group_size=row_group_size)


def _connect(
    path: str, *, read_only: bool, settings: Settings | None = None, row_group_size: int | None = None
) -> duckdb.DuckDBPyConnection:
    """The one place DuckDB files are opened: a held lock becomes a typed, explained error."""
    try:
        if row_group_size is None or path == ":memory:":
            con = duckdb.connect(path, read_only=read_only)
        else:
            con = catalog.attach(path, read_only=read_only, row_group_size=row_group_size)
    except duckdb.IOException as err:
        if "lock" in str(err).lower():
            raise DatabaseLockedError(
                f"{path} is owned by another process (DuckDB allows one writer per file, and no reader beside "
                f"it). Read it through `mlmd-log serve` of the owning process, or stop that process first. ({err})"
            ) from err
        raise
    # Nothing in mlmd-log reads or writes files through SQL; closing the door makes sql() safe.
    con.execute("SET enable_external_access = false")
    _limit_memory(con, path, settings or Settings())
    return con


def _limit_memory(con: duckdb.DuckDBPyConnection, path: str, settings: Settings) -> None:
    """Cap DuckDB's memory for a file database, so a long-running owner's RSS stays flat as the file grows.

    DuckDB's default limit is 80% of RAM, and below it DuckDB keeps every table block it has touched and
    the allocations it has freed: the projector's RSS then grows with the database. Under the
    limit it evicts blocks and returns memory; queries that need more (large sorts) spill to its temporary
    directory. An in-memory database holds its data in that memory, so it keeps DuckDB's default.
    """
    if settings.db_memory_mb > 0 and path != ":memory:":
        con.execute("SET memory_limit = ?", [f"{settings.db_memory_mb}MiB"])
        # Hand freed memory back to the OS after each task instead of keeping up to 128 MiB (512 MiB after a
        # bulk free), DuckDB's defaults: the projector's RSS after each transaction then stays level from 100k
        # to 1M artifacts instead of climbing with the file, at no cost in throughput.
        con.execute("SET allocator_flush_threshold = '8MiB'")
        con.execute("SET allocator_bulk_deallocation_flush_threshold = '8MiB'")


class MetadataStore(Producer, Reader):
    """MLMD's ``MetadataStore`` API over an append-only log and its DuckDB projection."""

    def __init__(self, producer_log: Any, con: duckdb.DuckDBPyConnection | None, settings: Settings) -> None:
        Producer.__init__(self, producer_log, settings)
        self._con = con
        Reader.__init__(
            self,
            con.cursor() if con is not None else _NoProjection(),  # type: ignore[arg-type]  # explains itself on use
            NodeCache(settings.cache_entries) if con is not None else None,
        )
        self._embedded = producer_log if isinstance(producer_log, EmbeddedLog) else None
        self._alias_lock = threading.Lock()
        self._alias_cursor: duckdb.DuckDBPyConnection | None = None
        if self._embedded is not None:
            self._embedded.listeners.append(self._on_commit)

    def put_execution(self, *args: Any, wait: bool = False, **kwargs: Any) -> tuple[int, list[int], list[int]]:
        """MLMD's put_execution; once the op is applied (embedded, or ``wait=True``) ids of reused nodes are
        the existing nodes' ids, as MLMD returns them."""
        execution_id, artifact_ids, context_ids = Producer.put_execution(self, *args, wait=wait, **kwargs)
        if self._knows_outcome(wait):
            return (
                execution_id,
                self._canonical("artifact", artifact_ids),
                self._canonical("context", context_ids),
            )
        return execution_id, artifact_ids, context_ids

    def put_lineage_subgraph(
        self, *args: Any, wait: bool = False, **kwargs: Any
    ) -> tuple[list[int], list[int], list[int]]:
        """MLMD's put_lineage_subgraph; ids of reused nodes are canonical once the op is applied."""
        execution_ids, artifact_ids, context_ids = Producer.put_lineage_subgraph(self, *args, wait=wait, **kwargs)
        if self._knows_outcome(wait):
            return execution_ids, self._canonical("artifact", artifact_ids), self._canonical("context", context_ids)
        return execution_ids, artifact_ids, context_ids

    def _knows_outcome(self, wait: bool) -> bool:
        return self._con is not None and (wait or self._embedded is not None)

    def _canonical(self, kind: str, ids: list[int]) -> list[int]:
        """Replace aliases among ``ids`` by the nodes they name (any thread: own cursor, under a lock)."""
        if not ids:
            return ids
        with self._alias_lock:
            if self._alias_cursor is None:
                assert self._con is not None
                self._alias_cursor = self._con.cursor()
            found = dict(
                self._alias_cursor.execute(
                    "SELECT alias_id, canonical_id FROM id_aliases WHERE kind = ? "
                    "AND alias_id IN (SELECT unnest(?::BIGINT[]))",
                    [kind, ids],
                ).fetchall()
            )
        return [found.get(i, i) for i in ids]

    def _on_commit(self, report: BatchReport) -> None:
        self.on_commit(report.current, report.changed, report.aliases, report.types)

    def replay(self) -> int:
        """Rebuild the projection from the log (embedded: from ``log_ops``); returns the ops re-applied."""
        if self._embedded is None:
            raise UnimplementedError(
                "a Kafka store replays into a new file: `mlmd-log replay --from kafka://HOST:PORT/TOPIC --to NEW.duckdb`"
            )
        if self.cache is not None:
            self.cache.clear()
        self.links.clear()
        self._alias_map = None
        return self._embedded.replay()

    def close(self, timeout: float | None = None) -> None:
        Producer.close(self, timeout)
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NoProjection:
    """Stands in for a connection in a write-only store: every read explains itself."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidArgumentError(
            "this store is write-only (connected to Kafka with db=None): pass db=PATH to read"
        )


def open_reader(db: str) -> Reader:
    """A read-only :class:`Reader` over a DuckDB projection file nobody is writing.

    DuckDB lets no other process write the file while it is open here, so the
    node cache is coherent without invalidation (it fills as nodes are read), and
    the log position is read once.
    """
    if not os.path.exists(db):
        raise NotFoundError(f"no DuckDB file at {db}")
    return Reader(_connect(db, read_only=True), NodeCache(), frozen=True)


def connect(log_url: str | None = None, db: str | None = None, settings: Settings | None = None) -> MetadataStore:
    """Open a store: ``duckdb:///path`` (embedded, no broker) or ``kafka://host:port/topic`` (+ ``db`` to read)."""
    settings = settings or Settings()
    url = parse_log_url(log_url or settings.log)
    if isinstance(url, DuckDBLogUrl):
        if db is not None and os.path.abspath(db) != os.path.abspath(url.path):
            raise InvalidArgumentError(
                f"an embedded store keeps its log and projection in one file ({url.path}); omit db= or pass the same path"
            )
        con = open_duckdb(url.path, settings)
        return MetadataStore(EmbeddedLog(con), con, settings)
    from mlmd_log.kafka_store import open_kafka_store

    return open_kafka_store(url, db, settings)
