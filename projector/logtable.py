"""Reading a log kept in a DuckDB table (a projection's op archive, the embedded log) in position order.

Positions in these tables are consecutive but for offsets a broker skipped, so
the next ``count`` records are read as the window ``[start, start + count)``: a
bounded range lets DuckDB skip row groups by their zone maps, where ``ORDER BY
position LIMIT`` sorts the whole rest of the table (at 1M records, 8-10 ms
against 80-90 ms per 5,000). Only a window that held gaps is topped up
with the LIMIT form after it, so no record is ever missed.
"""

from __future__ import annotations

from typing import Final

import duckdb

from mlmd_log.projector.records import LogRecord

#: The tables that hold a log, with their (position, record time, op bytes) columns.
_COLUMNS: Final = {"op_archive": "position, record_time_ms, bytes", "log_ops": "position, record_time_ms, value"}


def read_records(con: duckdb.DuckDBPyConnection, table: str, start: int, count: int) -> list[LogRecord]:
    """Up to ``count`` records of ``table`` from position ``start`` on, in order (a missing value reads b"")."""
    select = f"SELECT {_COLUMNS[table]} FROM {table} WHERE position >= ?"  # noqa: S608  # allow-listed names
    rows = con.execute(f"{select} AND position < ? ORDER BY position", [start, start + count]).fetchall()
    if len(rows) < count:
        rows += con.execute(f"{select} ORDER BY position LIMIT ?", [start + count, count - len(rows)]).fetchall()
    return [LogRecord(p, t, None, v if v is not None else b"") for p, t, v in rows]
