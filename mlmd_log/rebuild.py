"""``mlmd-log replay`` as a library call: rebuild a projection in a new file from a log, optionally verified.

The log is a Kafka topic or a projection file's op archive
(:func:`replay_source`); :func:`rebuild` applies it into a new DuckDB file with
:func:`mlmd_log.projector.replay.replay`, removes the file when the replay does
not finish, and with ``verify_with`` compares the new file with that live
projection at the position reached, table by table
(:func:`mlmd_log.projector.verify.differing_tables`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from mlmd_log.database import open_duckdb, open_reader
from mlmd_log.errors import DataLossError, InvalidArgumentError, OutOfRangeError
from mlmd_log.projector import catalog
from mlmd_log.projector.loop import LogSource
from mlmd_log.projector.replay import ArchiveSource, ReplayProgress, replay
from mlmd_log.projector.verify import differing_tables
from mlmd_log.settings import Settings
from mlmd_log.urls import DuckDBLogUrl, parse_log_url


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """A log to replay, what to call it in messages, and the projection file it feeds (None: unknown)."""

    source: LogSource
    described: str
    live_path: str | None


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What :func:`rebuild` did: ops applied, the checkpoint reached, the log replayed, the file verified
    against (None: not verified)."""

    records: int
    position: int
    described: str
    verified_with: str | None


def replay_source(from_url: str | None, db: str | None, log: str | None, settings: Settings) -> ReplaySource:
    """The log ``replay`` reads: ``from_url`` (a Kafka topic or ``duckdb:///PATH``'s op archive); else the op
    archive of ``db``; else ``log`` (a Kafka topic or an embedded file). ``db`` and ``log`` default to
    ``settings``; the projection fed is ``db``, or for an op archive named by URL that file."""
    named = from_url or (None if db or settings.db else log or settings.log)
    url = parse_log_url(named) if named else None
    if isinstance(url, DuckDBLogUrl):
        return ReplaySource(ArchiveSource(open_reader(url.path).con), f"the op archive of {url.path}", db or url.path)
    db = db or settings.db
    if url is not None:
        from mlmd_log.projector.transport import KafkaLogReader

        return ReplaySource(KafkaLogReader(settings, list(url.bootstrap), url.topic), str(url), db)
    if not db:
        raise InvalidArgumentError("this command reads a DuckDB file: pass --db PATH (or MLMD_LOG_DB)")
    return ReplaySource(ArchiveSource(open_reader(db).con), f"the op archive of {db}", db)


def rebuild(
    to: str, settings: Settings, *, from_url: str | None = None, db: str | None = None, log: str | None = None,
    up_to: int | None = None, up_to_time_ms: int | None = None, verify: bool = False,
    progress: Callable[[ReplayProgress], None] | None = None, announce: Callable[[str], None] | None = None,
) -> Rebuilt:
    """Replay the log :func:`replay_source` picks into the new file ``to``; with ``verify`` check the new file
    equals the projection that log feeds (``db``) at the position reached.

    ``announce`` hears which log is replayed before the replay starts. Raises DataLossError naming the
    tables that differ, OutOfRangeError when the projection has not reached that position; a replay that
    does not finish leaves no file behind.
    """
    if os.path.exists(to):
        raise InvalidArgumentError(f"{to} exists: replay builds a new file (remove it first)")
    found = replay_source(from_url, db, log, settings)
    try:
        if verify and found.live_path is None:
            raise InvalidArgumentError("--verify compares with a projection file: pass --db PATH")
        target = open_duckdb(to, settings, row_group_size=catalog.ROW_GROUP_SIZE)
        try:
            if announce is not None:
                announce(found.described)
            try:
                done = replay(found.source, target, up_to=up_to, up_to_time_ms=up_to_time_ms, progress=progress)
            except BaseException:
                target.close()
                os.remove(to)  # a replay that did not finish leaves no file behind
                raise
            if verify:
                assert found.live_path is not None
                _verify(found.live_path, target, to, done.position)
        finally:
            target.close()
    finally:
        found.source.close()
    return Rebuilt(done.records, done.position, found.described, found.live_path if verify else None)


def _verify(live_path: str, target: duckdb.DuckDBPyConnection, to: str, position: int) -> None:
    """Raise unless ``target`` (whole) equals the projection file ``live_path`` at ``position``."""
    reader = open_reader(live_path)
    try:
        checkpoint = reader.log_position()
        if checkpoint < position:
            raise OutOfRangeError(
                f"{live_path} has projected up to position {checkpoint}, not {position}: "
                "it cannot be compared at that position"
            )
        differing = differing_tables(reader.con, target, position)
    finally:
        reader.con.close()
    if differing:
        raise DataLossError(f"{to} differs from {live_path} at position {position} in: {', '.join(differing)}")
