"""Read-only SQL over the projection, returned as Arrow.

Only a single SELECT statement is accepted (checked with DuckDB's own
statement parser, not by looking at the text); values travel as parameters.
The query runs inside a transaction that is always rolled back, on a database
whose external access is disabled by the store (no COPY, ATTACH, INSTALL or
file readers), so no statement can change the projection or reach the disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from mlmd_log.errors import InvalidArgumentError, PermissionDeniedError


def run_sql(
    con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
) -> pa.Table:
    """Run one SELECT and return its rows as a ``pyarrow.Table``."""
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
    con.execute("BEGIN TRANSACTION")
    try:
        result = con.sql(query, params=params).to_arrow_table()
    except duckdb.PermissionException as err:
        raise PermissionDeniedError(f"sql() cannot reach files or extensions: {err}") from err
    except duckdb.Error as err:
        raise InvalidArgumentError(f"Invalid SQL: {err}") from err
    finally:
        con.execute("ROLLBACK")
        con.close()
    return result
