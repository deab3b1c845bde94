"""Rebuild a projection from an op archive: the archive holds every consumed record (bytes, position, time).

Replaying it into an empty database must give the same tables as the live
projection (the log is the truth; the archive is a faithful copy of the part
of it that was consumed). ``up_to`` stops at a log position, for time travel
into a separate file.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from mlmd_log.projector.engine import Projector
from mlmd_log.projector.records import LogRecord


def replay_archive(
    source: duckdb.DuckDBPyConnection,
    target: duckdb.DuckDBPyConnection,
    *,
    up_to: int | None = None,
    batch: int = 5_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Project ``source``'s op archive (up to ``up_to``, inclusive) into ``target``; returns records applied."""
    projector = Projector(target)
    last = projector.checkpoint().position
    limit = up_to if up_to is not None else (1 << 62)
    done = 0
    while True:
        rows = source.execute(
            "SELECT position, record_time_ms, bytes FROM op_archive WHERE position > ? AND position <= ? "
            "ORDER BY position LIMIT ?",
            [last, limit, batch],
        ).fetchall()
        if not rows:
            return done
        projector.project([LogRecord(p, t, None, b) for p, t, b in rows])
        last = rows[-1][0]
        done += len(rows)
        if progress is not None:
            progress(done)
