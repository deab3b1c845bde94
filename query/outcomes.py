"""Outcomes of appended ops, read back from the projection: how a producer learns it was rejected."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from mlmd_log.errors import StatusError, error_class


def first_rejection(con: duckdb.DuckDBPyConnection, op_ids: Sequence[str]) -> StatusError | None:
    """The MLMD error of the earliest rejected op among ``op_ids`` (None when all were applied)."""
    if not op_ids:
        return None
    row = con.execute(
        "SELECT error_class, message FROM rejections WHERE op_id IN (SELECT unnest(?::VARCHAR[])) "
        "ORDER BY position LIMIT 1",
        [list(op_ids)],
    ).fetchone()
    if row is None:
        return None
    return error_class(row[0])(row[1])
