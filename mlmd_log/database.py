"""Opening DuckDB files: the one place a DuckDB file is opened, for the store, the CLI and the server.

DuckDB's lock error becomes :class:`~mlmd_log.errors.DatabaseLockedError` here,
external access (COPY, ATTACH, file readers) is switched off on every
connection, and a file database's memory is capped.
"""

from __future__ import annotations

import os

import duckdb

from mlmd_log.errors import DatabaseLockedError, NotFoundError
from mlmd_log.projector import catalog
from mlmd_log.query.cache import NodeCache
from mlmd_log.query.reader import Reader
from mlmd_log.settings import Settings


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


def store_threads(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Set DuckDB's thread count for a store's file to ``settings.db_threads`` (0: leave DuckDB's default)."""
    if settings.db_threads > 0:
        con.execute("SET threads = ?", [settings.db_threads])


def _limit_memory(con: duckdb.DuckDBPyConnection, path: str, settings: Settings) -> None:
    """Cap DuckDB's memory for a file database, so a long-running owner's RSS stays flat as the file grows.

    DuckDB's default limit is 80% of RAM, and below it DuckDB keeps every table block it has touched and
    the allocations it has freed: the projector's RSS then grows with the database (issue #4). Under the
    limit it evicts blocks and returns memory; queries that need more (large sorts) spill to its temporary
    directory. An in-memory database holds its data in that memory, so it keeps DuckDB's default.
    """
    if settings.db_memory_mb > 0 and path != ":memory:":
        con.execute("SET memory_limit = ?", [f"{settings.db_memory_mb}MiB"])
        # Hand freed memory back to the OS after each task instead of keeping up to 128 MiB (512 MiB after a
        # bulk free), DuckDB's defaults. Measured (bench/results/ingest_rss_flush.json): the projector's RSS
        # after each transaction of a 1M-artifact run stays at 415-527 MB from the 100k mark to the end,
        # instead of climbing 407 -> 526 MB, at no cost in throughput.
        con.execute("SET allocator_flush_threshold = '8MiB'")
        con.execute("SET allocator_bulk_deallocation_flush_threshold = '8MiB'")


def open_reader(db: str) -> Reader:
    """A read-only :class:`Reader` over a DuckDB projection file nobody is writing.

    DuckDB lets no other process write the file while it is open here, so the
    node cache is coherent without invalidation (it fills as nodes are read), and
    the log position is read once.
    """
    if not os.path.exists(db):
        raise NotFoundError(f"no DuckDB file at {db}")
    return Reader(_connect(db, read_only=True), NodeCache(), frozen=True)
