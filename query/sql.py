"""Read-only SQL over the projection, returned as Arrow.

Only a single SELECT statement is accepted (checked with DuckDB's own
statement parser, not by looking at the text); values travel as parameters.
The query runs inside a transaction that is always rolled back, on a database
whose external access is disabled by the store (no COPY, ATTACH, INSTALL or
file readers), so no statement can change the projection or reach the disk.
The analyst macros (``upstream``, ``downstream``, ``*_as_of``, ``position_at``;
see :mod:`mlmd_log.query.sql_macros`) are created inside that transaction.

A query may be given a time limit: on the deadline the connection is interrupted
(DuckDB stops at its next check) and the caller gets a DeadlineExceededError, so
a server's worker is never held by a runaway query. Running out of DuckDB's
memory limit is a ResourceExhaustedError, not a syntax complaint.

The result is Arrow; :func:`convert_output` turns it into a pandas or polars
frame for callers that ask, without making either library a dependency.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Protocol, overload

import duckdb
import pyarrow as pa

from mlmd_log.errors import (
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from mlmd_log.query.sql_macros import install_macros
from mlmd_log.transaction import transaction

Output = Literal["arrow", "pandas", "polars"]
OUTPUTS: Final[tuple[str, ...]] = ("arrow", "pandas", "polars")


class SqlCall(Protocol):
    """The type of a bound ``sql()`` (:meth:`mlmd_log.query.reader.Reader.sql`): Arrow unless asked otherwise."""

    @overload
    def __call__(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, output: Literal["arrow"] = ...,
        timeout: float | None = None,
    ) -> pa.Table: ...

    @overload
    def __call__(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, output: Output,
        timeout: float | None = None,
    ) -> Any: ...


def run_sql(
    con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None,
    *, timeout: float | None = None,
) -> pa.Table:
    """Run one SELECT and return its rows as a ``pyarrow.Table``; past ``timeout`` seconds it is interrupted."""
    if timeout is not None and not timeout > 0:
        raise InvalidArgumentError(f"timeout must be a positive number of seconds, not {timeout!r}")
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as err:
        raise InvalidArgumentError(f"Invalid SQL: {err}") from err
    if len(statements) != 1:
        raise InvalidArgumentError(f"sql() runs exactly one statement; got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise PermissionDeniedError(
            f"sql() is read-only: a {kind.name} statement is refused (only SELECT is allowed); "
            "the log is the only way to change the store"
        )
    con = con.cursor()  # its own transaction, and no pending result of the caller's in the way
    timer = threading.Timer(timeout, con.interrupt) if timeout is not None else None
    try:
        with transaction(con, read_only=True, user_sql=True):
            install_macros(con, query)
            if timer is not None:
                timer.start()
            return con.sql(query, params=params).to_arrow_table()
    except CancelledError as err:
        if timer is None:
            raise
        raise DeadlineExceededError(f"the query ran past its time limit of {timeout} s and was stopped") from err
    finally:
        if timer is not None:
            timer.cancel()
        con.close()


def convert_output(table: pa.Table, output: str) -> Any:
    """``table`` as ``output`` asks: the Arrow table itself, a ``pandas.DataFrame`` or a ``polars.DataFrame``.

    pandas and polars are optional: asking for one that is not installed is a
    FailedPreconditionError naming the package to install.
    """
    if output == "arrow":
        return table
    if output not in OUTPUTS:
        raise InvalidArgumentError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")
    try:
        if output == "pandas":
            import pandas  # noqa: F401  # imported first so a missing package is reported by name

            return table.to_pandas()
        import polars

        return polars.from_arrow(table)
    except ModuleNotFoundError as err:
        if err.name != output:
            raise
        raise FailedPreconditionError(
            f"sql(output={output!r}) needs the {output} package, which is not installed: pip install {output}"
        ) from err
