"""``mlmd-log import``: an MLMD schema-10 store becomes ordered put-ops on the log, ids and times kept.

The source is read in one snapshot (:mod:`~mlmd_log.migrate.source`) and cut into chunks in key order
(:mod:`~mlmd_log.migrate.tables`): types, then contexts, artifacts, executions, events, attributions,
associations and parent contexts. Each chunk becomes one op marked ``imported`` whose id derives from
(store fingerprint, table, first row key): a re-run, or a run after a crash, finds the ops already in the
log and appends only the rest, so nothing is appended twice. Node and type ids are MLMD's; the import pads
the log with lease ops when needed so that ids leased afterwards start above the largest imported id.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mlmd_log import __version__
from mlmd_log.errors import FailedPreconditionError
from mlmd_log.ids import ID_BLOCK_SIZE
from mlmd_log.migrate import tables
from mlmd_log.migrate.progress import Progress
from mlmd_log.migrate.readahead import read_ahead
from mlmd_log.migrate.source import Source, open_source
from mlmd_log.producer.api import OP_SCHEMA_VERSION
from mlmd_log.schemas.v1 import ops_pb2
from mlmd_log.settings import Settings
from mlmd_log.urls import KafkaLogUrl, parse_log_url

#: The producer service every import op carries (``mlmd-log ops`` and history show it).
IMPORT_SERVICE = "mlmd-log import"
_OP_NAMESPACE = uuid.UUID("5b7c1f0e-8a51-4f43-9d6e-2f0c3a4b6d71")
#: Rows per op: large enough for throughput; an op over half the op size limit is split in halves.
DEFAULT_CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ops appended now, ops found already in the log, rows carried, the store's id."""

    store_id: str
    appended: int
    skipped: int
    rows: int
    rows_per_s: float


def store_fingerprint(source: Source) -> str:
    """A stable id of an MLMD store: its types and the first row of each node table (same for copies)."""
    digest = hashlib.blake2b(digest_size=12)
    for row in source.query("SELECT id, name, version, type_kind FROM Type ORDER BY id"):
        digest.update(repr(row).encode())
    for table in ("Artifact", "Execution", "Context"):
        digest.update(repr(source.one(
            f"SELECT id, type_id, create_time_since_epoch FROM {table} ORDER BY id LIMIT 1"  # noqa: S608
        )).encode())
    return digest.hexdigest()


def import_op_id(store_id: str, table: str, first_row: int) -> str:
    """The op id of the chunk of ``table`` starting at ``first_row``: the same on every run."""
    return str(uuid.uuid5(_OP_NAMESPACE, f"{store_id}/{table}/{first_row}"))


def _fill_nodes(kind: str) -> Callable[[ops_pb2.Operation, list[Any], list[int]], None]:
    def fill(op: ops_pb2.Operation, messages: list[Any], ids: list[int]) -> None:
        getattr(getattr(op, f"put_{kind}s"), f"{kind}s").extend(messages)
        getattr(op.assigned_ids, f"{kind}_ids").extend(ids)
    return fill


def _fill_events(op: ops_pb2.Operation, messages: list[Any], ids: list[int]) -> None:
    op.put_events.events.extend(messages)


def _fill_links(field: str) -> Callable[[ops_pb2.Operation, list[Any], list[int]], None]:
    def fill(op: ops_pb2.Operation, messages: list[Any], ids: list[int]) -> None:
        getattr(op.put_attributions_and_associations, field).extend(messages)
    return fill


def _fill_parents(op: ops_pb2.Operation, messages: list[Any], ids: list[int]) -> None:
    op.put_parent_contexts.parent_contexts.extend(messages)


class _OpMaker:
    """Builds the import ops of a store: envelopes with deterministic ids, split in halves while too large."""

    def __init__(self, source: Source, store_id: str, max_bytes: int) -> None:
        self.source_kind = source.kind
        self.store_id = store_id
        self.max_bytes = max_bytes

    def envelope(self, table: str, first: int, rows: int) -> ops_pb2.Operation:
        op = ops_pb2.Operation(op_id=import_op_id(self.store_id, table, first))
        op.imported.store_id, op.imported.table = self.store_id, table
        op.imported.first_row, op.imported.rows = first, rows
        op.imported.source_kind = self.source_kind
        return op

    def ops(
        self, chunk: tables.Chunk, fill: Callable[[ops_pb2.Operation, list[Any], list[int]], None]
    ) -> Iterator[tuple[int, ops_pb2.Operation]]:
        op = self.envelope(chunk.table, chunk.first, len(chunk.ids))
        fill(op, chunk.messages, chunk.ids)
        if op.ByteSize() <= self.max_bytes or len(chunk.ids) < 2:
            yield len(chunk.ids), op
            return
        mid = len(chunk.ids) // 2
        for messages, ids in ((chunk.messages[:mid], chunk.ids[:mid]), (chunk.messages[mid:], chunk.ids[mid:])):
            yield from self.ops(tables.Chunk(chunk.table, ids[0], messages, ids), fill)


def _ops(source: Source, store_id: str, chunk_rows: int, max_bytes: int) -> Iterator[tuple[int, ops_pb2.Operation]]:
    """(row count, op) for the whole store, in dependency order."""
    maker = _OpMaker(source, store_id, max_bytes)
    types, type_ids = tables.read_types(source)
    if types:
        op = maker.envelope("Type", type_ids[0], len(types))
        # The payload lists artifact, execution, then context types; the ids follow that order.
        for wanted in ("artifact", "execution", "context"):
            for (kind, msg), type_id in zip(types, type_ids, strict=True):
                if kind == wanted:
                    getattr(op.put_types, f"{kind}_types").append(msg)
                    op.assigned_ids.type_ids.append(type_id)
        yield len(types), op
    for kind in ("context", "artifact", "execution"):
        for chunk in tables.read_nodes(source, kind, chunk_rows):
            yield from maker.ops(chunk, _fill_nodes(kind))
    for chunk in tables.read_events(source, chunk_rows):
        yield from maker.ops(chunk, _fill_events)
    for table, field in (("Attribution", "attributions"), ("Association", "associations")):
        for chunk in tables.read_links(source, table, chunk_rows):
            yield from maker.ops(chunk, _fill_links(field))
    edges = tables.read_parent_contexts(source)
    for start in range(0, len(edges), chunk_rows):
        part = edges[start:start + chunk_rows]
        yield from maker.ops(tables.Chunk("ParentContext", start, part, list(range(start, start + len(part)))),
                             _fill_parents)


def _max_node_id(source: Source) -> int:
    top = 0
    for table in ("Artifact", "Execution", "Context"):
        row = source.one(f"SELECT max(id) FROM {table}")  # noqa: S608  # fixed names
        top = max(top, int(row[0]) if row and row[0] is not None else 0)
    return top


class _Target:
    """The log an import writes to, through a store that also reads its projection (to skip ops done)."""

    def __init__(self, store: Any, store_id: str) -> None:
        self.store = store
        self.log = store._log  # the producer's log: import ops carry their own ids and identity
        self.con = store._con
        self.store_id = store_id

    def catch_up(self, log_url: str, settings: Settings) -> None:
        """Let a Kafka replica reach the log's end, so that every op already appended is seen as done.

        The end is read through a reader of its own: the replica's reader belongs to the replica's thread.
        """
        replica = getattr(self.log, "replica", None)
        url = parse_log_url(log_url)
        if replica is None or not isinstance(url, KafkaLogUrl):
            return
        from mlmd_log.projector.transport import KafkaLogReader

        probe = KafkaLogReader(settings, list(url.bootstrap), url.topic)
        try:
            end = probe.end_offset()
        finally:
            probe.close()
        replica.wait_for(end - 1, settings.delivery_timeout_s)

    def check_foreign(self) -> None:
        row = self.con.execute(
            "SELECT count(*) FROM op_archive WHERE service IS DISTINCT FROM ? OR session_id IS DISTINCT FROM ?",
            [IMPORT_SERVICE, self.store_id],
        ).fetchone()
        if row and row[0]:
            raise FailedPreconditionError(
                f"the log already holds {row[0]:,} ops that are not this store's import: an import keeps MLMD's "
                "ids, so it goes into a new, empty log"
            )

    def has(self, op_id: str) -> bool:
        return self.con.execute("SELECT 1 FROM op_archive WHERE op_id = ? LIMIT 1", [op_id]).fetchone() is not None

    def next_position(self) -> int:
        row = self.con.execute("SELECT coalesce(max(position), -1) + 1 FROM op_archive").fetchone()
        return int(row[0]) if row else 0


def import_store(
    source_spec: str, log_url: str | None = None, db: str | None = None, settings: Settings | None = None,
    *, chunk_rows: int = DEFAULT_CHUNK_ROWS, progress: bool = True,
) -> ImportReport:
    """Import the MLMD store at ``source_spec`` (SQLite path or ``mysql://`` URL) into the log at ``log_url``.

    Raises a typed error before appending anything when the source is not a readable MLMD schema-10 store
    or the log holds other ops. Returns once every op is appended and projected.
    """
    from mlmd_log.store import connect

    settings = settings or Settings()
    with open_source(source_spec) as source:
        store_id = store_fingerprint(source)
        total = tables.count_rows(source)
        max_id = _max_node_id(source)
        identity = ops_pb2.ProducerIdentity(
            team=settings.team, service=IMPORT_SERVICE, host=settings.host, user=settings.user,
            client_version=f"mlmd-log {__version__}", session_id=store_id,
        )
        started = time.monotonic()
        # The import reads nothing back through the store's node cache: filling it would only cost time.
        store = connect(log_url, db, settings.model_copy(update={"cache_entries": 0}))
        try:
            target = _Target(store, store_id)
            target.catch_up(log_url or settings.log, settings)
            target.check_foreign()
            meter = Progress(total, "imported") if progress else None
            appended = skipped = rows = 0
            for count, op in read_ahead(_ops(source, store_id, chunk_rows, settings.max_op_bytes // 2)):
                rows += count
                if target.has(op.op_id):
                    skipped += 1
                else:
                    op.producer.CopyFrom(identity)
                    op.schema_version = OP_SCHEMA_VERSION
                    target.log.append(op.op_id, op.SerializeToString(), wait=False)
                    appended += 1
                if meter is not None:
                    meter.add(count)
            store.sync(settings.delivery_timeout_s)
            _pad_leases(target, max_id, identity)
            store.sync(settings.delivery_timeout_s)
            rate = rows / max(time.monotonic() - started, 1e-6)
            if meter is not None:
                meter.finish()
        finally:
            store.close()
    return ImportReport(store_id, appended, skipped, rows, rate)


def _pad_leases(target: _Target, max_id: int, identity: ops_pb2.ProducerIdentity) -> None:
    """Append lease ops until the next lease's block lies above ``max_id`` (ADR 0001: block = position)."""
    needed = math.ceil(max_id / ID_BLOCK_SIZE)
    position = target.next_position()
    for n in range(position, needed):
        op = ops_pb2.Operation(
            op_id=import_op_id(target.store_id, "lease", n), producer=identity, schema_version=OP_SCHEMA_VERSION
        )
        op.lease_ids.block_size = ID_BLOCK_SIZE
        target.log.append(op.op_id, op.SerializeToString(), wait=False)
