"""DuckDB transactions, and the one place DuckDB's errors become mlmd-log's.

:func:`transaction` begins a transaction, commits it when the block ends
(``read_only``: always rolls it back), and on any exception rolls it back,
runs ``on_rollback`` (callers drop state the transaction may have changed)
and re-raises, a DuckDB error translated by :func:`duckdb_error`. Errors of
mlmd-log's own hierarchy pass through unchanged.

Translation classifies by what the caller can do next: a full disk or an I/O
failure may pass (``UnavailableError``, retryable), so may memory pressure
(``ResourceExhaustedError``) and a write conflict (``AbortedError``); an
interrupted query is ``CancelledError``; anything else breaks an invariant of
the projection (``InternalError``). For a caller's own SQL (``user_sql``)
every other error is the caller's (``InvalidArgumentError``), and a blocked
file or extension access is ``PermissionDeniedError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

from mlmd_log.errors import (
    AbortedError,
    CancelledError,
    InternalError,
    InvalidArgumentError,
    MlmdLogError,
    PermissionDeniedError,
    ResourceExhaustedError,
    StatusError,
    UnavailableError,
)

_RETRYABLE: tuple[tuple[type[duckdb.Error], type[StatusError]], ...] = (
    (duckdb.IOException, UnavailableError),
    (duckdb.OutOfMemoryException, ResourceExhaustedError),
    (duckdb.TransactionException, AbortedError),
    (duckdb.InterruptException, CancelledError),
)


def duckdb_error(err: duckdb.Error, *, user_sql: bool = False) -> StatusError:
    """The mlmd-log error for a DuckDB error (raise it ``from err``)."""
    if user_sql and isinstance(err, duckdb.PermissionException):
        return PermissionDeniedError(f"sql() cannot reach files or extensions: {err}")
    for kind, error in _RETRYABLE:
        if isinstance(err, kind):
            return error(f"DuckDB: {err}")
    if user_sql:
        return InvalidArgumentError(f"Invalid SQL: {err}")
    return InternalError(f"DuckDB: {err}")


@contextmanager
def transaction(
    con: duckdb.DuckDBPyConnection, *, read_only: bool = False, user_sql: bool = False,
    on_rollback: Callable[[], None] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """``with transaction(con):`` runs the block in one DuckDB transaction on ``con`` (see the module)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException as err:
        con.execute("ROLLBACK")
        if on_rollback is not None:
            on_rollback()
        if isinstance(err, duckdb.Error) and not isinstance(err, MlmdLogError):
            raise duckdb_error(err, user_sql=user_sql) from err
        raise
    if read_only:
        con.execute("ROLLBACK")
        return
    try:
        con.execute("COMMIT")
    except duckdb.Error as err:
        raise duckdb_error(err, user_sql=user_sql) from err
