"""The public store: :func:`connect` and :class:`MetadataStore` (MLMD's write and read API in one object).

:class:`MetadataStore` is a facade: a :class:`~mlmd_log.producer.api.Producer`
over a log (embedded or Kafka) for the writes and a
:class:`~mlmd_log.query.reader.Reader` over the DuckDB projection for the reads,
each MLMD call delegated to the part that implements it. DuckDB files are
opened by :mod:`mlmd_log.database`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import duckdb

from mlmd_log.database import open_duckdb, open_reader, store_threads
from mlmd_log.delegate import delegate, forwarded
from mlmd_log.embedded import EmbeddedLog
from mlmd_log.errors import InvalidArgumentError, UnimplementedError
from mlmd_log.producer.api import Producer
from mlmd_log.projector.engine import BatchReport
from mlmd_log.query.audit import HistoryReads
from mlmd_log.query.cache import NodeCache
from mlmd_log.query.events import EventReads
from mlmd_log.query.lineage_graph import LineageReads
from mlmd_log.query.lineage_index import LineageIndex
from mlmd_log.query.nodes import NodeReads
from mlmd_log.query.reader import Reader
from mlmd_log.query.sql import SqlCall
from mlmd_log.query.types import TypeReads
from mlmd_log.settings import Settings
from mlmd_log.urls import DuckDBLogUrl, parse_log_url

__all__ = ["MetadataStore", "connect", "open_duckdb", "open_reader"]


class MetadataStore:
    """MLMD's ``MetadataStore`` API over an append-only log and its DuckDB projection."""

    def __init__(self, producer_log: Any, con: duckdb.DuckDBPyConnection | None, settings: Settings) -> None:
        self.producer = Producer(producer_log, settings)
        #: The settings the store was opened with (the servers and consumers built on it read them).
        self.settings = settings
        #: The log the producer appends to (embedded, or Kafka with its replica projector).
        self._log = producer_log
        self._con = con
        self.reader = Reader(
            con.cursor() if con is not None else _NoProjection(),  # type: ignore[arg-type]  # explains itself on use
            NodeCache(settings.cache_entries) if con is not None else None,
        )
        self._embedded = producer_log if isinstance(producer_log, EmbeddedLog) else None
        self._alias_lock = threading.Lock()
        self._alias_cursor: duckdb.DuckDBPyConnection | None = None
        #: Whether the projection holds any alias (None: not read yet); set on a commit that adds one.
        self._has_aliases: bool | None = None
        if self._embedded is not None:
            self._embedded.listeners.append(self._on_commit)

    # -- the parts' state, as the single-object store showed it -------------------------------------------

    con = forwarded[duckdb.DuckDBPyConnection]("reader.ctx.con", "The reader's cursor of the projection.")
    cache = forwarded[NodeCache | None]("reader.ctx.cache", "The reader's node cache (None: write-only).")
    links = forwarded[LineageIndex]("reader.ctx.links", "Lineage links in memory, shared by the server's readers.")
    frozen = forwarded[bool]("reader.ctx.frozen", "Always False: a store's projection moves.")
    session_id = forwarded[str]("producer.session_id", "This producer's session, stamped on every op.")

    # -- writes ---------------------------------------------------------------------------------------------

    put_artifact_type = delegate("producer", Producer.put_artifact_type)
    put_execution_type = delegate("producer", Producer.put_execution_type)
    put_context_type = delegate("producer", Producer.put_context_type)
    put_artifacts = delegate("producer", Producer.put_artifacts)
    put_executions = delegate("producer", Producer.put_executions)
    put_contexts = delegate("producer", Producer.put_contexts)
    put_events = delegate("producer", Producer.put_events)
    put_attributions_and_associations = delegate("producer", Producer.put_attributions_and_associations)
    put_parent_contexts = delegate("producer", Producer.put_parent_contexts)
    put_types = delegate("producer", Producer.put_types)
    sync = delegate("producer", Producer.sync)

    def put_execution(self, *args: Any, wait: bool = False, **kwargs: Any) -> tuple[int, list[int], list[int]]:
        """MLMD's put_execution; once the op is applied (embedded, or ``wait=True``) ids of reused nodes are
        the existing nodes' ids, as MLMD returns them."""
        execution_id, artifact_ids, context_ids = self.producer.put_execution(*args, wait=wait, **kwargs)
        if self._knows_outcome(wait):
            return (
                execution_id,
                self._canonical("artifact", artifact_ids),
                self._canonical("context", context_ids),
            )
        return execution_id, artifact_ids, context_ids

    def put_lineage_subgraph(
        self, *args: Any, wait: bool = False, **kwargs: Any
    ) -> tuple[list[int], list[int], list[int]]:
        """MLMD's put_lineage_subgraph; ids of reused nodes are canonical once the op is applied."""
        execution_ids, artifact_ids, context_ids = self.producer.put_lineage_subgraph(*args, wait=wait, **kwargs)
        if self._knows_outcome(wait):
            return execution_ids, self._canonical("artifact", artifact_ids), self._canonical("context", context_ids)
        return execution_ids, artifact_ids, context_ids

    def _knows_outcome(self, wait: bool) -> bool:
        return self._con is not None and (wait or self._embedded is not None)

    def _canonical(self, kind: str, ids: list[int]) -> list[int]:
        """Replace aliases among ``ids`` by the nodes they name (any thread: own cursor, under a lock)."""
        if not ids:
            return ids
        with self._alias_lock:
            if self._alias_cursor is None:
                assert self._con is not None
                self._alias_cursor = self._con.cursor()
            if self._has_aliases is None:
                row = self._alias_cursor.execute("SELECT count(*) > 0 FROM id_aliases").fetchone()
                self._has_aliases = bool(row and row[0])
            if not self._has_aliases:  # no alias anywhere: every id is its node's (one query saved per call)
                return ids
            found = dict(
                self._alias_cursor.execute(
                    "SELECT alias_id, canonical_id FROM id_aliases WHERE kind = ? "
                    "AND alias_id IN (SELECT unnest(?::BIGINT[]))",
                    [kind, ids],
                ).fetchall()
            )
        return [found.get(i, i) for i in ids]

    # -- reads --------------------------------------------------------------------------------------------

    on_commit = delegate("reader", Reader.on_commit)
    log_position = delegate("reader", Reader.log_position)

    sql = forwarded[SqlCall]("reader.sql", "The reader's :meth:`~mlmd_log.query.reader.Reader.sql`.")

    get_nodes_page = delegate("reader.nodes", NodeReads.get_nodes_page)
    get_nodes_by_type_page = delegate("reader.nodes", NodeReads.get_nodes_by_type_page)
    get_nodes_by_context_page = delegate("reader.nodes", NodeReads.get_nodes_by_context_page)
    get_artifacts = delegate("reader.nodes", NodeReads.get_artifacts)
    get_executions = delegate("reader.nodes", NodeReads.get_executions)
    get_contexts = delegate("reader.nodes", NodeReads.get_contexts)
    get_artifacts_by_id = delegate("reader.nodes", NodeReads.get_artifacts_by_id)
    get_executions_by_id = delegate("reader.nodes", NodeReads.get_executions_by_id)
    get_contexts_by_id = delegate("reader.nodes", NodeReads.get_contexts_by_id)
    get_artifacts_by_type = delegate("reader.nodes", NodeReads.get_artifacts_by_type)
    get_executions_by_type = delegate("reader.nodes", NodeReads.get_executions_by_type)
    get_contexts_by_type = delegate("reader.nodes", NodeReads.get_contexts_by_type)
    get_artifact_by_type_and_name = delegate("reader.nodes", NodeReads.get_artifact_by_type_and_name)
    get_execution_by_type_and_name = delegate("reader.nodes", NodeReads.get_execution_by_type_and_name)
    get_context_by_type_and_name = delegate("reader.nodes", NodeReads.get_context_by_type_and_name)
    get_artifacts_by_external_ids = delegate("reader.nodes", NodeReads.get_artifacts_by_external_ids)
    get_executions_by_external_ids = delegate("reader.nodes", NodeReads.get_executions_by_external_ids)
    get_contexts_by_external_ids = delegate("reader.nodes", NodeReads.get_contexts_by_external_ids)
    get_artifacts_by_uri = delegate("reader.nodes", NodeReads.get_artifacts_by_uri)
    get_artifacts_by_context = delegate("reader.nodes", NodeReads.get_artifacts_by_context)
    get_executions_by_context = delegate("reader.nodes", NodeReads.get_executions_by_context)
    get_contexts_by_artifact = delegate("reader.nodes", NodeReads.get_contexts_by_artifact)
    get_contexts_by_execution = delegate("reader.nodes", NodeReads.get_contexts_by_execution)
    get_artifacts_and_types_by_artifact_ids = delegate("reader.nodes", NodeReads.get_artifacts_and_types_by_artifact_ids)
    get_parent_contexts_by_contexts = delegate("reader.nodes", NodeReads.get_parent_contexts_by_contexts)
    get_children_contexts_by_contexts = delegate("reader.nodes", NodeReads.get_children_contexts_by_contexts)
    get_parent_contexts_by_context = delegate("reader.nodes", NodeReads.get_parent_contexts_by_context)
    get_children_contexts_by_context = delegate("reader.nodes", NodeReads.get_children_contexts_by_context)
    get_artifact_type = delegate("reader.types", TypeReads.get_artifact_type)
    get_execution_type = delegate("reader.types", TypeReads.get_execution_type)
    get_context_type = delegate("reader.types", TypeReads.get_context_type)
    get_artifact_types = delegate("reader.types", TypeReads.get_artifact_types)
    get_execution_types = delegate("reader.types", TypeReads.get_execution_types)
    get_context_types = delegate("reader.types", TypeReads.get_context_types)
    get_artifact_types_by_id = delegate("reader.types", TypeReads.get_artifact_types_by_id)
    get_execution_types_by_id = delegate("reader.types", TypeReads.get_execution_types_by_id)
    get_context_types_by_id = delegate("reader.types", TypeReads.get_context_types_by_id)
    get_artifact_types_by_external_ids = delegate("reader.types", TypeReads.get_artifact_types_by_external_ids)
    get_execution_types_by_external_ids = delegate("reader.types", TypeReads.get_execution_types_by_external_ids)
    get_context_types_by_external_ids = delegate("reader.types", TypeReads.get_context_types_by_external_ids)
    get_events_by_artifact_ids = delegate("reader.events", EventReads.get_events_by_artifact_ids)
    get_events_by_execution_ids = delegate("reader.events", EventReads.get_events_by_execution_ids)
    get_reachable_nodes = delegate("reader.lineage", LineageReads.get_reachable_nodes)
    get_lineage_subgraph = delegate("reader.lineage", LineageReads.get_lineage_subgraph)
    get_history = delegate("reader.history", HistoryReads.get_history)
    get_changes = delegate("reader.history", HistoryReads.get_changes)
    get_entity_changes = delegate("reader.history", HistoryReads.get_entity_changes)
    get_op = delegate("reader.history", HistoryReads.get_op)
    get_op_position = delegate("reader.history", HistoryReads.get_op_position)
    get_op_log = delegate("reader.history", HistoryReads.get_op_log)

    def _on_commit(self, report: BatchReport) -> None:
        if report.aliases:
            self._has_aliases = True  # before any waiter of this commit reads it (listeners run first)
        self.reader.on_commit(report.current, report.changed, report.aliases, report.types)

    def replay(self) -> int:
        """Rebuild the projection from the log (embedded: from ``log_ops``); returns the ops re-applied."""
        if self._embedded is None:
            raise UnimplementedError(
                "a Kafka store replays into a new file: `mlmd-log replay --from kafka://HOST:PORT/TOPIC --to NEW.duckdb`"
            )
        self.reader.forget()
        self._has_aliases = None
        return self._embedded.replay()

    def close(self, timeout: float | None = None) -> None:
        self.producer.close(timeout)
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NoProjection:
    """Stands in for a connection in a write-only store: every read explains itself."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidArgumentError(
            "this store is write-only (connected to Kafka with db=None): pass db=PATH to read"
        )


def connect(log_url: str | None = None, db: str | None = None, settings: Settings | None = None) -> MetadataStore:
    """Open a store: ``duckdb:///path`` (embedded, no broker) or ``kafka://host:port/topic`` (+ ``db`` to read)."""
    settings = settings or Settings()
    url = parse_log_url(log_url or settings.log)
    if isinstance(url, DuckDBLogUrl):
        if db is not None and os.path.abspath(db) != os.path.abspath(url.path):
            raise InvalidArgumentError(
                f"an embedded store keeps its log and projection in one file ({url.path}); omit db= or pass the same path"
            )
        con = open_duckdb(url.path, settings)
        store_threads(con, settings)
        return MetadataStore(EmbeddedLog(con), con, settings)
    from mlmd_log.kafka_store import open_kafka_log

    log, replica_db = open_kafka_log(url, db, settings)
    try:
        store = MetadataStore(log, replica_db, settings)
        if log.replica is not None:
            log.replica.listeners.append(store._on_commit)
        log.start()
    except BaseException:
        log.close(settings.delivery_timeout_s)
        if replica_db is not None:
            replica_db.close()
        raise
    return store
