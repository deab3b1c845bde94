"""MLMD's read API over the DuckDB projection, with ``as_of`` on every read.

A :class:`Reader` is composed of one reader per concept, sharing one
:class:`~mlmd_log.query.context.ReadContext` (connection, position, aliases):
node reads (:mod:`~mlmd_log.query.nodes`, through the paged selection of
:mod:`~mlmd_log.query.select`), types (:mod:`~mlmd_log.query.types`), events
(:mod:`~mlmd_log.query.events`), lineage (:mod:`~mlmd_log.query.lineage_graph`),
history and audit (:mod:`~mlmd_log.query.audit`) and SQL
(:mod:`~mlmd_log.query.sql`). Each MLMD call is delegated to the concept that
implements it. Semantics follow MLMD 1.17.1: ``*_by_id`` drops missing ids and
returns id order; unknown types give empty lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb

from mlmd_log.delegate import delegate, forwarded
from mlmd_log.query.audit import HistoryReads
from mlmd_log.query.cache import NodeCache
from mlmd_log.query.context import ReadContext
from mlmd_log.query.events import EventReads
from mlmd_log.query.lineage_graph import LineageReads, ResultTruncatedWarning
from mlmd_log.query.lineage_index import LineageIndex
from mlmd_log.query.nodes import NodeReads
from mlmd_log.query.select import NodeSelector
from mlmd_log.query.sql import Output, SqlCall, convert_output, run_sql
from mlmd_log.query.types import TypeReads
from mlmd_log.schemas.rows import NodeRow

__all__ = ["Reader", "ResultTruncatedWarning"]


class Reader:
    """Reads the projection behind ``con`` (a connection or cursor this object may use freely)."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, cache: NodeCache | None = None, links: LineageIndex | None = None,
        *, frozen: bool = False,
    ) -> None:
        self.ctx = ctx = ReadContext(con, cache, links, frozen)
        selector = NodeSelector(ctx)
        self.types = TypeReads(ctx)
        self.events = EventReads(ctx)
        self.nodes = NodeReads(ctx, selector, self.types)
        self.lineage = LineageReads(ctx, selector, self.types, self.events, self.nodes)
        self.history = HistoryReads(ctx, self.nodes)

    con = forwarded[duckdb.DuckDBPyConnection]("ctx.con", "The connection (or cursor) this reader queries.")
    cache = forwarded[NodeCache | None]("ctx.cache", "Current nodes by id, for point gets (None: none kept).")
    links = forwarded[LineageIndex]("ctx.links", "Lineage links in memory, shared by a store's readers.")
    frozen = forwarded[bool]("ctx.frozen", "A read-only file nobody writes: its position is read once.")

    def on_commit(
        self, current: Mapping[str, Iterable[NodeRow]], changed: Mapping[str, Iterable[int]], aliases: bool,
        types: bool = False,
    ) -> None:
        """Bring cached state up to a projector commit (wired by the store that owns the projector)."""
        if aliases:
            self.ctx.forget_aliases()
        if types:
            self.types.forget()
        if self.ctx.cache is not None:
            self.ctx.cache.commit(current, changed, aliases, types)

    def forget(self) -> None:
        """Drop every cached read state (the projection is being rebuilt)."""
        if self.ctx.cache is not None:
            self.ctx.cache.clear()
        self.ctx.links.clear()
        self.ctx.forget_aliases()
        self.types.forget()

    def log_position(self) -> int:
        """The last log position this projection has applied (-1 when empty): a valid ``as_of``."""
        return self.ctx.log_position()

    def _sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, output: Output = "arrow",
        timeout: float | None = None,
    ) -> Any:
        """Run one read-only SELECT over the documented tables, views and macros (docs/schema.md).

        ``timeout`` (seconds) stops a longer query with DeadlineExceededError; running out of DuckDB's memory
        limit is ResourceExhaustedError.

        Returns a ``pyarrow.Table``; ``output="pandas"`` or ``"polars"`` returns that library's DataFrame
        (FailedPreconditionError naming the package when it is not installed).
        """
        return convert_output(run_sql(self.ctx.con, query, params, timeout=timeout), output)

    #: ``sql(query, params=None, *, output="arrow", timeout=None)``: see :meth:`_sql` (typed by :class:`SqlCall`).
    sql = forwarded[SqlCall]("_sql", "Run one read-only SELECT over the projection: a pyarrow.Table.")

    # -- artifacts, executions and contexts ------------------------------------------------------------------
    get_nodes_page = delegate("nodes", NodeReads.get_nodes_page)
    get_nodes_by_type_page = delegate("nodes", NodeReads.get_nodes_by_type_page)
    get_nodes_by_context_page = delegate("nodes", NodeReads.get_nodes_by_context_page)
    get_artifacts = delegate("nodes", NodeReads.get_artifacts)
    get_executions = delegate("nodes", NodeReads.get_executions)
    get_contexts = delegate("nodes", NodeReads.get_contexts)
    get_artifacts_by_id = delegate("nodes", NodeReads.get_artifacts_by_id)
    get_executions_by_id = delegate("nodes", NodeReads.get_executions_by_id)
    get_contexts_by_id = delegate("nodes", NodeReads.get_contexts_by_id)
    get_artifacts_by_type = delegate("nodes", NodeReads.get_artifacts_by_type)
    get_executions_by_type = delegate("nodes", NodeReads.get_executions_by_type)
    get_contexts_by_type = delegate("nodes", NodeReads.get_contexts_by_type)
    get_artifact_by_type_and_name = delegate("nodes", NodeReads.get_artifact_by_type_and_name)
    get_execution_by_type_and_name = delegate("nodes", NodeReads.get_execution_by_type_and_name)
    get_context_by_type_and_name = delegate("nodes", NodeReads.get_context_by_type_and_name)
    get_artifacts_by_external_ids = delegate("nodes", NodeReads.get_artifacts_by_external_ids)
    get_executions_by_external_ids = delegate("nodes", NodeReads.get_executions_by_external_ids)
    get_contexts_by_external_ids = delegate("nodes", NodeReads.get_contexts_by_external_ids)
    get_artifacts_by_uri = delegate("nodes", NodeReads.get_artifacts_by_uri)
    get_artifacts_by_context = delegate("nodes", NodeReads.get_artifacts_by_context)
    get_executions_by_context = delegate("nodes", NodeReads.get_executions_by_context)
    get_contexts_by_artifact = delegate("nodes", NodeReads.get_contexts_by_artifact)
    get_contexts_by_execution = delegate("nodes", NodeReads.get_contexts_by_execution)
    get_artifacts_and_types_by_artifact_ids = delegate("nodes", NodeReads.get_artifacts_and_types_by_artifact_ids)
    get_parent_contexts_by_contexts = delegate("nodes", NodeReads.get_parent_contexts_by_contexts)
    get_children_contexts_by_contexts = delegate("nodes", NodeReads.get_children_contexts_by_contexts)
    get_parent_contexts_by_context = delegate("nodes", NodeReads.get_parent_contexts_by_context)
    get_children_contexts_by_context = delegate("nodes", NodeReads.get_children_contexts_by_context)

    # -- types -----------------------------------------------------------------------------------------------
    get_artifact_type = delegate("types", TypeReads.get_artifact_type)
    get_execution_type = delegate("types", TypeReads.get_execution_type)
    get_context_type = delegate("types", TypeReads.get_context_type)
    get_artifact_types = delegate("types", TypeReads.get_artifact_types)
    get_execution_types = delegate("types", TypeReads.get_execution_types)
    get_context_types = delegate("types", TypeReads.get_context_types)
    get_artifact_types_by_id = delegate("types", TypeReads.get_artifact_types_by_id)
    get_execution_types_by_id = delegate("types", TypeReads.get_execution_types_by_id)
    get_context_types_by_id = delegate("types", TypeReads.get_context_types_by_id)
    get_artifact_types_by_external_ids = delegate("types", TypeReads.get_artifact_types_by_external_ids)
    get_execution_types_by_external_ids = delegate("types", TypeReads.get_execution_types_by_external_ids)
    get_context_types_by_external_ids = delegate("types", TypeReads.get_context_types_by_external_ids)

    # -- events ----------------------------------------------------------------------------------------------
    get_events_by_artifact_ids = delegate("events", EventReads.get_events_by_artifact_ids)
    get_events_by_execution_ids = delegate("events", EventReads.get_events_by_execution_ids)

    # -- lineage ---------------------------------------------------------------------------------------------
    get_reachable_nodes = delegate("lineage", LineageReads.get_reachable_nodes)
    get_lineage_subgraph = delegate("lineage", LineageReads.get_lineage_subgraph)

    # -- history and audit -----------------------------------------------------------------------------------
    get_history = delegate("history", HistoryReads.get_history)
    get_changes = delegate("history", HistoryReads.get_changes)
    get_entity_changes = delegate("history", HistoryReads.get_entity_changes)
    get_op = delegate("history", HistoryReads.get_op)
    get_op_position = delegate("history", HistoryReads.get_op_position)
    get_op_log = delegate("history", HistoryReads.get_op_log)
