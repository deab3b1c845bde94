"""Turns an ``as_of`` argument (a log position or an aware datetime) into a log position.

A position is inclusive. A time T maps to the last position whose running
maximum record time is <= T (docs/design.md, "Rules"). A position beyond what has been
projected is an ``OutOfRangeError``: the projection cannot answer for it yet.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from mlmd_log.errors import InvalidArgumentError, OutOfRangeError

AsOf = int | datetime | None


def resolve_as_of(con: duckdb.DuckDBPyConnection, as_of: AsOf) -> int | None:
    """The log position ``as_of`` names, or None for the current state."""
    if as_of is None:
        return None
    row = con.execute("SELECT position FROM checkpoint WHERE singleton = 1").fetchone()
    checkpoint = int(row[0]) if row else -1
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None:
            raise InvalidArgumentError("as_of datetime must be timezone-aware (e.g. datetime.now(timezone.utc))")
        ms = int(as_of.timestamp() * 1000)
        found = con.execute("SELECT max(position) FROM op_archive WHERE log_time_ms <= ?", [ms]).fetchone()
        return -1 if found is None or found[0] is None else int(found[0])
    if isinstance(as_of, bool) or not isinstance(as_of, int):
        raise InvalidArgumentError(f"as_of must be a log position (int) or an aware datetime, not {as_of!r}")
    if as_of > checkpoint:
        raise OutOfRangeError(
            f"as_of position {as_of} is beyond the projected log (checkpoint {checkpoint}); sync() first"
        )
    return as_of


def version_filter(alias: str, position: int | None) -> tuple[str, list[int]]:
    """SQL predicate (with its parameters) selecting the versions valid at ``position`` (None: current)."""
    if position is None:
        return f"{alias}.valid_to IS NULL", []
    return f"{alias}.valid_from <= ? AND ({alias}.valid_to IS NULL OR {alias}.valid_to > ?)", [position, position]
