"""Outcomes of appended ops, read back from the projection: how a producer learns it was rejected."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from mlmd_log.errors import NotFoundError, StatusError, error_class


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


def type_ids_by_key(con: duckdb.DuckDBPyConnection, keys: Sequence[tuple[str, str, str | None]]) -> list[int]:
    """Ids of the current types ``(kind, name, version)`` in the projection, in the order given."""
    rows = con.execute(
        "SELECT k.i, t.id FROM (SELECT unnest(?::VARCHAR[]) AS kind, unnest(?::VARCHAR[]) AS name, "
        "unnest(?::VARCHAR[]) AS version, unnest(?::BIGINT[]) AS i) k JOIN type_versions t "
        "ON t.kind = k.kind AND t.name = k.name AND t.version IS NOT DISTINCT FROM k.version AND t.valid_to IS NULL",
        [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], list(range(len(keys)))],
    ).fetchall()
    found = dict(rows)
    missing = [keys[i] for i in range(len(keys)) if i not in found]
    if missing:
        raise NotFoundError(f"no type {missing[0][1]!r} ({missing[0][0]}) in the projection after it was applied")
    return [found[i] for i in range(len(keys))]
