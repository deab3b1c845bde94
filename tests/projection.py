"""An empty projection to fill by hand, for tests that check reads against an oracle on generated rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb

from mlmd_log.projector.ddl import migrate


def empty_projection(type_id: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory projection with one artifact type (``DataSet``, id ``type_id``); closed after use."""
    connection = duckdb.connect()
    migrate(connection)
    connection.execute(
        "INSERT INTO type_versions (id, kind, name, valid_from) VALUES (?, 'artifact', 'DataSet', 0)", [type_id]
    )
    yield connection
    connection.close()


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, columns: str, rows: list[list[Any]]) -> None:
    """One multi-row INSERT (much faster in DuckDB than one statement per row)."""
    if rows:
        marks = ", ".join("(" + ", ".join("?" * len(rows[0])) + ")" for _ in rows)
        con.execute(f"INSERT INTO {table} ({columns}) VALUES {marks}", [x for row in rows for x in row])
