"""Applies a batch of log records to DuckDB: decode, de-duplicate, prefetch, apply, write, archive, checkpoint.

One call = one DuckDB transaction holding the new rows, the op archive, the
rejections and the checkpoint, so a crash at any moment loses or repeats
nothing (docs/design.md, invariant 4). Used by both the Kafka loop and the embedded log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa

from mlmd_log.errors import StatusError
from mlmd_log.projector.apply import apply_in_tx
from mlmd_log.projector.ddl import migrate
from mlmd_log.projector.decode import decode
from mlmd_log.projector.gcpause import gc_paused
from mlmd_log.projector.lookups import DuckLookups
from mlmd_log.projector.opfilter import OpIdFilter, op_hashes
from mlmd_log.projector.prefetch import prefetch
from mlmd_log.projector.records import LogRecord
from mlmd_log.projector.state import BatchState, Memo
from mlmd_log.projector.writer import WritePlan, plan_output
from mlmd_log.schemas.rows import NodeRow, TypeRow
from mlmd_log.schemas.v1 import ops_pb2


class OpOutcome(NamedTuple):
    """What became of one record: applied, rejected (with the MLMD error) or a duplicate op_id.

    A named tuple (one per record; a frozen dataclass costs ~4x as much to build).
    """

    position: int
    op_id: str | None
    payload: str | None
    error: StatusError | None = None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Checkpoint:
    position: int
    op_id: str | None
    max_record_time_ms: int


@dataclass(slots=True)
class BatchReport:
    outcomes: list[OpOutcome] = field(default_factory=list)
    rows: int = 0
    #: True when the batch created id aliases (read caches of the alias map must reload).
    aliases: bool = False
    #: True when the batch registered or changed types (read caches of types must reload).
    types: bool = False
    #: The node versions the batch wrote, by kind, and its id aliases (kind, alias id, canonical id, position):
    #: :attr:`changed` and :attr:`current` are computed from them when a read cache asks (replay never does).
    versions: dict[str, list[NodeRow]] = field(default_factory=dict)
    alias_rows: list[tuple[str, int, int, int]] = field(default_factory=list)

    @property
    def rejected(self) -> list[OpOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    @property
    def changed(self) -> dict[str, set[int]]:
        """Node ids whose current version changed (or that became aliases), by kind: for read caches."""
        changed = {kind: {r.id for r in rows} for kind, rows in self.versions.items()}
        for kind, alias_id, _, _ in self.alias_rows:
            changed.setdefault(kind, set()).add(alias_id)
        return changed

    @property
    def current(self) -> dict[str, list[NodeRow]]:
        """The current version of every node the batch wrote, by kind: read caches store them as they are."""
        return {kind: [r for r in rows if r.valid_to is None] for kind, rows in self.versions.items()}


@dataclass(slots=True)
class Carry:
    """What a batch wrote, kept for the next batch while the first is still being stored (see pipeline).

    ``written``: every entry the batch set in the core's caches (cache name -> key -> value), so the next
    batch sees the batch's writes whether or not its reads of the file see them yet. ``op_ids``: the
    batch's op ids, for the next batch's duplicate check.
    """

    written: dict[str, dict[Any, Any]]
    op_ids: set[str]


@dataclass(slots=True)
class Prepared:
    """A batch applied in memory: its report, the statements that store it, and the checkpoint after it."""

    report: BatchReport
    plan: WritePlan
    checkpoint: Checkpoint
    records: int
    carry: Carry | None = None


#: Duplicate-op lookups of up to this many op ids always probe the index (a list parameter gains nothing).
_ALWAYS_PROBE = 16
#: Above that, placeholders are used while the archive has this many rows per op id looked up or more.
_ROWS_PER_PLACEHOLDER = 700


class Projector:
    """Projects log records into the DuckDB file behind ``con`` (which it migrates on first use)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        migrate(con)
        self._types: dict[int, TypeRow] | None = None
        self._memo: Memo | None = None
        #: The checkpoint as last committed by this projector (it is the file's only writer).
        self._checkpoint: Checkpoint | None = None
        #: Every op id archived (a superset): read from the file at the first duplicate check, then kept.
        self._op_filter: OpIdFilter | None = None

    def checkpoint(self, con: duckdb.DuckDBPyConnection | None = None) -> Checkpoint:
        """The last position applied (read from the file once, through ``con`` if given, then kept)."""
        if self._checkpoint is None:
            row = (con or self.con).execute(
                "SELECT position, op_id, log_time_ms FROM op_archive ORDER BY position DESC LIMIT 1"
            ).fetchone()
            row = row or (-1, None, 0)
            self._checkpoint = Checkpoint(row[0], row[1], row[2])
        return self._checkpoint

    def project(self, records: Sequence[LogRecord]) -> BatchReport:
        """Apply ``records`` in their own transaction."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            report = self.apply(records)
            self.con.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        return report

    def rollback(self) -> None:
        """Roll back the open transaction and forget cached state that it may have changed."""
        self.con.execute("ROLLBACK")
        self.forget()

    def forget(self) -> None:
        """Drop what this projector keeps between batches; it is read from the file again when needed."""
        self._types = None
        self._memo = None
        self._checkpoint = None
        self._op_filter = None

    def apply(self, records: Sequence[LogRecord], *, fresh_op_ids: bool = False) -> BatchReport:
        """Apply ``records`` inside the caller's transaction; records at or before the checkpoint are skipped.

        ``fresh_op_ids`` skips the duplicate-op lookup when the caller knows the ops' ids are new (the
        embedded log appending ops its own producer just created); every other path checks.
        """
        prepared = self.prepare(records, fresh_op_ids=fresh_op_ids)
        prepared.plan.run(self.con)
        return prepared.report

    def prepare(
        self,
        records: Sequence[LogRecord],
        *,
        fresh_op_ids: bool = False,
        reader: duckdb.DuckDBPyConnection | None = None,
        carries: Sequence[Carry] = (),
        keep: bool = False,
    ) -> Prepared:
        """Apply ``records`` in memory: decide every outcome and build the statements that store them.

        Nothing is written; :meth:`WritePlan.run` on the result stores the batch. Reads of the file go
        through ``reader`` (default: this projector's connection). ``carries`` are what earlier batches
        wrote that ``reader`` may not see yet, oldest first; ``keep`` asks for this batch's carry in the result.
        """
        with gc_paused():
            types = dict(self._types) if self._types is not None else None
            try:
                return self._prepare(records, fresh_op_ids, reader or self.con, carries, keep, strict=False)
            except (TypeError, ValueError):
                # A proto2 string field that holds bytes that are not UTF-8 (the parser hands it over as
                # ``bytes``) fails only where it meets text: an Arrow string column, a join. Walking every
                # string of every op up front would cost the common batch ~1 us per node, so the batch is
                # prepared again with that walk, which rejects such ops as undecodable. If no op holds such
                # a field, the retry raises the same error: nothing is masked. Apply changed nothing kept
                # but the type cache (restored here) and the op-id filter (a superset by design).
                self._types = types
                return self._prepare(records, fresh_op_ids, reader or self.con, carries, keep, strict=True)

    def _prepare(
        self,
        records: Sequence[LogRecord],
        fresh_op_ids: bool,
        reader: duckdb.DuckDBPyConnection,
        carries: Sequence[Carry],
        keep: bool,
        *,
        strict: bool,
    ) -> Prepared:
        cp = self.checkpoint(reader)
        records = [r for r in records if r.offset > cp.position]
        report = BatchReport()
        plan = WritePlan()
        if not records:
            return Prepared(report, plan, cp, 0, None)
        decoded = [decode(r.value, strict=strict) for r in records]
        op_ids = [d.op_id for d in decoded if isinstance(d, ops_pb2.Operation) and d.op_id]
        seen = self._repeated_op_ids(reader, op_ids, cp.position + 1, carries, check=not fresh_op_ids)
        lookups = DuckLookups(reader)
        if self._types is None or self._memo is None:
            self._types = lookups.types()
            self._memo = Memo(lookups.all_aliases(), lookups.high_water())
        state = BatchState(lookups, self._types, self._memo)
        for carry in carries:
            state.preload(carry.written)
        prefetch(state, [d for d in decoded if isinstance(d, ops_pb2.Operation)])
        max_time = cp.max_record_time_ms
        archive: list[tuple[object, ...]] = []
        rejections: list[tuple[object, ...]] = []
        outcomes = report.outcomes
        for record, op in zip(records, decoded, strict=True):
            position, record_time = record.offset, record.timestamp_ms
            max_time = max(max_time, record_time)
            if isinstance(op, StatusError):
                outcome = OpOutcome(position, None, None, op)
            else:
                op_id = op.op_id or None
                payload = op.WhichOneof("payload")
                if op_id is not None and op_id in seen:
                    outcome = OpOutcome(position, op_id, payload, None, True)
                else:
                    if op_id is not None:
                        seen.add(op_id)
                    outcome = OpOutcome(position, op_id, payload, apply_in_tx(state, position, op, max_time, payload))
            outcomes.append(outcome)
            archive.append(_archive_row(record, op, outcome, max_time))
            err = outcome.error
            if err is not None:
                rejections.append(
                    (position, outcome.op_id, type(err).__name__, err.error_code, err.message, record_time)
                )
        out = state.out
        plan_output(plan, out)
        self._memo.note(out)
        report.versions, report.alias_rows = out.versions, out.aliases
        report.aliases = bool(out.aliases)
        report.types = bool(out.type_versions)
        for written in out.type_versions:
            written.in_db = True  # the type cache outlives the batch: later closes must UPDATE the stored row
        report.rows = out.row_count()
        _plan_archive(plan, archive, rejections)
        self._checkpoint = Checkpoint(records[-1].offset, outcomes[-1].op_id, max_time)
        kept = None
        if keep:
            for cache, values in state.written.items():
                if cache.startswith("node:"):
                    for row in values.values():
                        if row is not None:
                            row.in_db = True  # stored by the time a later batch's statements run
            kept = Carry(state.written, set(op_ids))
        return Prepared(report, plan, self._checkpoint, len(records), kept)

    def _repeated_op_ids(
        self,
        reader: duckdb.DuckDBPyConnection,
        op_ids: list[str],
        archived: int,
        carries: Sequence[Carry],
        *,
        check: bool,
    ) -> set[str]:
        """Which of ``op_ids`` the archive or the batches in flight hold; the ids go into the op-id filter.

        Only the ids the filter cannot rule out are looked up in the archive (see :mod:`.opfilter`).
        Without ``check`` (ids known to be new) none is looked up, but a loaded filter still takes them.
        """
        if not op_ids:
            return set()
        if not check:
            if self._op_filter is not None:
                self._op_filter.add(op_hashes(op_ids))
            return set()
        if self._op_filter is None:
            self._op_filter = OpIdFilter.load(reader)
        hashes = op_hashes(op_ids)
        candidates = [op_ids[i] for i in np.flatnonzero(self._op_filter.may_contain(hashes)).tolist()]
        seen = self._known_op_ids(reader, candidates, archived)
        self._op_filter.add(hashes)
        for carry in carries:
            seen |= carry.op_ids.intersection(op_ids)
        return seen

    def _known_op_ids(self, con: duckdb.DuckDBPyConnection, op_ids: list[str], archived: int) -> set[str]:
        """Which of ``op_ids`` the archive (about ``archived`` rows) holds already: one query either way.

        Placeholders let DuckDB probe the op_id index, but parsing and planning cost ~20 us per
        placeholder; a list parameter costs a scan of the archive's op_id column (~0.03 us per row).
        The cheaper of the two is chosen from those measured costs, which decide speed only.
        """
        if not op_ids:
            return set()
        if len(op_ids) <= _ALWAYS_PROBE or len(op_ids) * _ROWS_PER_PLACEHOLDER <= archived:
            sql = f"SELECT op_id FROM op_archive WHERE op_id IN ({', '.join('?' * len(op_ids))})"  # noqa: S608  # only placeholders are formatted in
            rows = con.execute(sql, op_ids).fetchall()
        else:
            rows = con.execute(
                "SELECT op_id FROM op_archive WHERE op_id IN (SELECT unnest(?::VARCHAR[]))", [op_ids]
            ).fetchall()
        return {r[0] for r in rows}


def _plan_archive(plan: WritePlan, archive: list[tuple[object, ...]], rejections: list[tuple[object, ...]]) -> None:
    names = (
        "position", "op_id", "record_time_ms", "log_time_ms", "client_time_ms", "payload", "outcome",
        "team", "service", "host", "user", "client_version", "session_id", "bytes",
    )
    types = (
        pa.int64(), pa.string(), pa.int64(), pa.int64(), pa.int64(), pa.string(), pa.string(),
        pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.binary(),
    )
    columns = list(zip(*archive, strict=True))
    plan.insert("op_archive", {
        n: pa.array(c, t) for n, c, t in zip(names, columns, types, strict=True)
    })
    if rejections:
        cols = list(zip(*rejections, strict=True))
        plan.insert("rejections", {
            "position": pa.array(cols[0], pa.int64()), "op_id": pa.array(cols[1], pa.string()),
            "error_class": pa.array(cols[2], pa.string()), "error_code": pa.array(cols[3], pa.int32()),
            "message": pa.array(cols[4], pa.string()), "record_time_ms": pa.array(cols[5], pa.int64()),
        })


def _archive_row(
    record: LogRecord, op: ops_pb2.Operation | StatusError, outcome: OpOutcome, log_time: int
) -> tuple[object, ...]:
    status = "duplicate" if outcome.duplicate else ("rejected" if outcome.error is not None else "applied")
    if isinstance(op, StatusError):
        return (record.offset, None, record.timestamp_ms, log_time, None, None, status,
                None, None, None, None, None, None, record.value)
    p = op.producer
    return (
        record.offset, op.op_id or None, record.timestamp_ms, log_time,
        op.client_time_ms if op.HasField("client_time_ms") else None, outcome.payload, status,
        p.team, p.service, p.host, p.user, p.client_version, p.session_id, record.value,
    )
