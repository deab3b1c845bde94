"""Test helpers over projections: an empty projection to fill by hand (for tests that check reads against an
oracle on generated rows), and an op log that keeps what a Producer appends as log records."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import duckdb

from mlmd_log.projector.ddl import migrate
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.records import LogRecord
from mlmd_log.query.outcomes import type_ids_by_key


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


class CollectingLog:
    """An op log that keeps the encoded ops as log records (position = index, record time 1000 + index)."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def append(self, op_id: str, data: bytes, *, wait: bool = False) -> None:
        self.records.append(LogRecord(len(self.records), 1_000 + len(self.records), None, data))

    def lease(self, op_id: str, data: bytes) -> int:
        self.append(op_id, data)
        return len(self.records) - 1

    def type_ids(self, keys: Sequence[tuple[str, str, str | None]]) -> list[int]:
        """Type ids as the projector decides them: project the ops so far into memory and read them there."""
        con = duckdb.connect()
        try:
            Projector(con).project(self.records)
            return type_ids_by_key(con, keys)
        finally:
            con.close()

    def sync(self, timeout: float | None = None) -> None:
        """Nothing to deliver."""

    def close(self, timeout: float | None = None) -> None:
        """Nothing to release."""
