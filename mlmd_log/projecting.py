"""``mlmd-log project`` as a library call: project a Kafka log into a DuckDB file until caught up, or follow it.

The file is opened with the projector's row groups and a small block cache (so
a long-running projector's memory stays flat), and SIGINT/SIGTERM ask the loop
to stop after its transaction in flight. Exactly once: the loop resumes from
the file's checkpoint (:class:`~mlmd_log.projector.loop.ProjectorLoop`).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlmd_log.database import open_duckdb
from mlmd_log.errors import InvalidArgumentError
from mlmd_log.projector import catalog
from mlmd_log.projector.loop import ProjectorLoop
from mlmd_log.settings import Settings
from mlmd_log.urls import KafkaLogUrl, parse_log_url


@dataclass(frozen=True, slots=True)
class ProjectStatus:
    """Where a projection run is: ops applied by this run and the last committed position; :meth:`lag` and
    :attr:`skipped_offsets` ask the log (a broker round trip for the lag: call it when it will be shown)."""

    ops: int
    position: int
    #: True once this run has committed a transaction, or the log is idle (everything polled is committed).
    committed: bool
    _loop: ProjectorLoop
    _source: Any

    def lag(self) -> int:
        """The ops the log holds beyond :attr:`position`."""
        return self._loop.lag()

    @property
    def skipped_offsets(self) -> int:
        """Offsets found to be holes in the log so far."""
        return int(self._source.skipped)


def project(
    log_url: str, db: str, settings: Settings, *, follow: bool = False,
    on_progress: Callable[[ProjectStatus, bool], None] | None = None,
) -> ProjectStatus:
    """Project the Kafka log ``log_url`` into ``db`` until caught up (``follow``: until SIGINT/SIGTERM).

    ``on_progress(status, final)`` hears of each committed batch and of idle polls, and once more at the end
    (``final``).
    """
    from mlmd_log.projector.transport import KafkaLogReader

    url = parse_log_url(log_url)
    if not isinstance(url, KafkaLogUrl):
        raise InvalidArgumentError("the embedded log is projected as it is written; `project` needs --log kafka://...")
    # Only the loop uses this connection, so the file can be attached with the projector's row groups.
    con = open_duckdb(db, settings, row_group_size=catalog.ROW_GROUP_SIZE)
    # A dedicated projector: DuckDB's cache of the blocks it wrote is kept small (its RSS stays flat).
    source = KafkaLogReader(settings, list(url.bootstrap), url.topic)
    loop = ProjectorLoop(con, source, settings, cache_mb=settings.projector_cache_mb)
    previous = {sig: signal.signal(sig, lambda *_: loop.request_stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
    first_position = loop.position
    done = [0]

    def status(committed: bool) -> ProjectStatus:
        return ProjectStatus(done[0], loop.position, committed, loop, source)

    def batch(report: Any, *, final: bool = False) -> None:
        done[0] += len(report.outcomes) if report is not None else 0
        if on_progress is not None:
            on_progress(status(final or report is None or loop.position != first_position), final)

    try:
        loop.run(until_caught_up=not follow, on_batch=batch)
        batch(None, final=True)  # everything is committed now
        return status(True)
    finally:
        loop.stop()
        con.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
