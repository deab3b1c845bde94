"""History and audit: every version of a node with the op and producer that wrote it, and the op log itself.

Versions come straight from the ``*_versions`` tables joined to the op archive
on the log position that created them (``valid_from``), so the answer is what
the log says, not a reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from mlmd_log.errors import InvalidArgumentError, NotFoundError
from mlmd_log.schemas.v1 import ops_pb2

KINDS = ("artifact", "execution", "context")


@dataclass(frozen=True, slots=True)
class Change:
    """One op as the audit trail shows it."""

    position: int
    op_id: str | None
    payload: str | None
    outcome: str
    team: str | None
    service: str | None
    user: str | None
    host: str | None
    time_ms: int


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a node: valid over log positions [valid_from, valid_to), written by ``change``."""

    node: Any
    valid_from: int
    valid_to: int | None
    change: Change


_CHANGE_COLUMNS = 'a.position, a.op_id, a.payload, a.outcome, a.team, a.service, a."user", a.host, a.log_time_ms'


def changes(con: duckdb.DuckDBPyConnection, after: int = -1, up_to: int | None = None) -> list[Change]:
    """Ops in (after, up_to], applied or not, with who appended them and when."""
    rows = con.execute(
        f"SELECT {_CHANGE_COLUMNS} FROM op_archive a WHERE a.position > ? AND (? IS NULL OR a.position <= ?) "
        "ORDER BY a.position",
        [after, up_to, up_to],
    ).fetchall()
    return [Change(*r) for r in rows]


def version_positions(con: duckdb.DuckDBPyConnection, kind: str, node_id: int) -> list[tuple[int, int | None, Change]]:
    """(valid_from, valid_to, change) of every version of a node, oldest first."""
    if kind not in KINDS:
        raise InvalidArgumentError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    rows = con.execute(
        f"SELECT v.valid_from, v.valid_to, {_CHANGE_COLUMNS} FROM {kind}_versions v "  # kind is allow-listed above
        "JOIN op_archive a ON a.position = v.valid_from WHERE v.id = ? ORDER BY v.valid_from",
        [node_id],
    ).fetchall()
    if not rows:
        raise NotFoundError(f"No {kind} with id {node_id} in any version")
    return [(r[0], r[1], Change(*r[2:])) for r in rows]


def op_at(con: duckdb.DuckDBPyConnection, position: int) -> ops_pb2.Operation:
    """The decoded op stored at a log position (the archive keeps the exact bytes)."""
    row = con.execute("SELECT bytes FROM op_archive WHERE position = ?", [position]).fetchone()
    if row is None:
        raise NotFoundError(f"No op at log position {position}")
    return ops_pb2.Operation.FromString(row[0])


def op_position(con: duckdb.DuckDBPyConnection, op_id: str) -> int | None:
    """The log position of the op with ``op_id`` (the first, if duplicated), or None when it is not in the log."""
    row = con.execute("SELECT min(position) FROM op_archive WHERE op_id = ?", [op_id]).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def op_log(con: duckdb.DuckDBPyConnection, after: int = -1, up_to: int | None = None) -> pa.Table:
    """The op log as Arrow (without the raw bytes), with the rejection message of rejected ops."""
    return con.cursor().sql(  # a fresh cursor: DuckDB refuses .sql() on a connection with a pending result
        'SELECT a.position, a.op_id, a.payload, a.outcome, a.team, a.service, a."user", a.host, '
        "a.client_time_ms, a.record_time_ms, a.log_time_ms, r.error_class, r.message "
        "FROM op_archive a LEFT JOIN rejections r ON r.position = a.position "
        "WHERE a.position > $after AND ($up_to IS NULL OR a.position <= $up_to) ORDER BY a.position",
        params={"after": after, "up_to": up_to},
    ).to_arrow_table()
