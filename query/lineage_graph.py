"""MLMD's ``get_lineage_subgraph``: starting nodes by filter, the walk, and the LineageGraph assembled.

The walk runs over the in-memory link index when it covers the position
(:mod:`~mlmd_log.query.lineage_index`), else over the tables
(:mod:`~mlmd_log.query.lineage`). The graph is spliced from stored messages as
bytes and parsed once.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial
from operator import itemgetter

import numpy as np

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.query.asof import AsOf, version_filter
from mlmd_log.query.context import ReadContext
from mlmd_log.query.convert import node_rows, node_select
from mlmd_log.query.events import EventReads
from mlmd_log.query.lineage import Reached, traverse, walk
from mlmd_log.query.lineage_index import Snapshot
from mlmd_log.query.nodes import NodeReads
from mlmd_log.query.options import ListOptions
from mlmd_log.query.select import NodeSelector
from mlmd_log.query.types import TypeReads
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.wire import varint

_MAX_STARTING_NODES = 100
_MAX_NODES = 100_000


class ResultTruncatedWarning(UserWarning):
    """A result was cut short by a limit; the warning says which."""


def _warn_truncated() -> None:
    warnings.warn(
        f"lineage subgraph cut at {_MAX_NODES:,} nodes: narrow the starting nodes or max_num_hops",
        ResultTruncatedWarning,
        stacklevel=3,
    )


class LineageReads:
    """The lineage reads of one reader (nodes by filter from its selector; types and events from its peers)."""

    def __init__(
        self, ctx: ReadContext, selector: NodeSelector, types: TypeReads, events: EventReads, nodes: NodeReads
    ) -> None:
        self.ctx = ctx
        self.selector = selector
        self.types = types
        self.events = events
        self.nodes = nodes

    def get_reachable_nodes(
        self, start_kind: str, start_id: int, *, max_hops: int, direction: int, as_of: AsOf = None
    ) -> tuple[list[mlmd.Artifact], list[mlmd.Execution]]:
        """The artifacts and executions reachable from one artifact or execution (``start_kind``) through
        events, within ``max_hops``, walking ``direction`` (:mod:`~mlmd_log.query.lineage`'s UPSTREAM,
        DOWNSTREAM or BIDIRECTIONAL); the start node included. What ``mlmd-log lineage`` lists."""
        position = self.ctx.position(as_of)
        reached = traverse(self.ctx.con, start_kind=start_kind, start_ids=[start_id], max_hops=max_hops,
                           direction=direction, position=position)
        return (
            self.nodes.get_artifacts_by_id(reached.artifact_ids, as_of=position),
            self.nodes.get_executions_by_id(reached.execution_ids, as_of=position),
        )

    def _filter_ids(self, kind: str, filter_query: str, position: int | None, limit: int) -> list[int]:
        rows, _ = self.selector.node_rows(kind, "TRUE", [], position, ListOptions(limit=limit, filter_query=filter_query), None)
        return [r.id for r in rows]

    def get_lineage_subgraph(
        self,
        query_options: mlmd.LineageSubgraphQueryOptions,
        field_mask_paths: Sequence[str] | None = None,
        *,
        as_of: AsOf = None,
    ) -> mlmd.LineageGraph:
        """MLMD's lineage subgraph: nodes within ``max_num_hops`` of the starting nodes, with their events,
        types and contexts (``field_mask_paths`` picks LineageGraph fields). ``as_of`` reads the past."""
        options = query_options
        which = options.WhichOneof("starting_nodes")
        start = getattr(options, which) if which else None
        if start is None or not start.filter_query:
            raise InvalidArgumentError("Missing arguments for listing starting nodes.")
        if options.max_num_hops < 0:
            raise InvalidArgumentError(f"max_num_hops cannot be negative: max_num_hops = {options.max_num_hops}")
        generation = self.ctx.cache.generation if self.ctx.cache is not None and as_of is None else None
        position = self.ctx.position(as_of)
        if position is None:
            position = self.ctx.log_position()  # one consistent snapshot for every query below
        start_kind = "artifact" if which == "starting_artifacts" else "execution"
        start_ids = self._filter_ids(start_kind, start.filter_query, position, _MAX_STARTING_NODES)
        end_a = (
            self._filter_ids("artifact", options.ending_artifacts.filter_query, position, _MAX_NODES)
            if options.ending_artifacts.filter_query else []
        )
        end_e = (
            self._filter_ids("execution", options.ending_executions.filter_query, position, _MAX_NODES)
            if options.ending_executions.filter_query else []
        )
        include_ending = options.ending_artifacts.include_ending_nodes or options.ending_executions.include_ending_nodes
        snap = self.ctx.links.at(self.ctx.con, position)
        walker = partial(walk, snap) if snap is not None else partial(traverse, self.ctx.con)
        reached = walker(
            start_kind=start_kind, start_ids=start_ids, max_hops=options.max_num_hops,
            direction=options.direction, position=position, end_artifacts=end_a, end_executions=end_e,
            include_ending=include_ending, max_nodes=_MAX_NODES,
        )
        graph = self._lineage_graph(reached, position, field_mask_paths, snap, generation)
        if reached.truncated:
            _warn_truncated()
        return graph

    def _lineage_graph(
        self, reached: Reached, position: int, paths: Sequence[str] | None, snap: Snapshot | None,
        generation: int | None,
    ) -> mlmd.LineageGraph:
        """Assemble the LineageGraph at ``position`` by splicing stored messages as bytes (one parse for the
        whole graph). Links come from the in-memory index when there is one (``snap``), nodes from the cache
        of current versions when the read is of the present (``generation`` is the cache's before it began)."""
        wanted = set(paths or ())

        def want(field: str) -> bool:
            return not wanted or field in wanted

        chunks: list[bytes] = []
        type_ids: dict[str, set[int]] = {}
        context_ids: list[int] = []
        if want("contexts") or want("context_types"):
            context_ids = self._lineage_contexts(reached, position, snap)
        for kind, ids, field, number in (
            ("artifact", reached.artifact_ids, "artifacts", 4),
            ("execution", reached.execution_ids, "executions", 5),
            ("context", context_ids, "contexts", 6),
        ):
            if not ids or not (want(field) or want(f"{kind}_types")):
                continue
            rows = self._lineage_nodes(kind, ids, position, generation)
            type_ids[kind] = {r[0] for r in rows}
            if want(field):
                tag = bytes([(number << 3) | 2])
                chunks.extend(tag + varint(len(r[1])) + r[1] for r in rows)
        if want("events") and reached.artifact_ids and reached.execution_ids:
            chunks.extend(self._lineage_events(reached, position, snap))
        graph = mlmd.LineageGraph()
        graph.MergeFromString(b"".join(chunks))
        for kind, field in (("artifact", "artifact_types"), ("execution", "execution_types"),
                            ("context", "context_types")):
            if want(field) and type_ids.get(kind):
                getattr(graph, field).extend(self.types.by_ids(kind, type_ids[kind], position))
        return graph

    def _lineage_contexts(self, reached: Reached, position: int, snap: Snapshot | None) -> list[int]:
        """Contexts the reached artifacts are attributed to and the reached executions associated with."""
        if snap is not None:
            found = set(snap.artifact_contexts.lookup(np.asarray(reached.artifact_ids, np.int64), position).tolist())
            found.update(snap.execution_contexts.lookup(np.asarray(reached.execution_ids, np.int64), position).tolist())
            return sorted(found)
        rf, rparams = version_filter("r", position)
        return [
            row[0] for row in self.ctx.con.execute(
                f"SELECT r.context_id FROM attribution_versions r WHERE {rf} "
                "AND r.artifact_id IN (SELECT unnest(?::BIGINT[])) "
                f"UNION SELECT r.context_id FROM association_versions r WHERE {rf} "
                "AND r.execution_id IN (SELECT unnest(?::BIGINT[])) ORDER BY 1",
                [*rparams, reached.artifact_ids, *rparams, reached.execution_ids],
            ).fetchall()
        ]

    def _lineage_nodes(
        self, kind: str, ids: list[int], position: int, generation: int | None
    ) -> list[tuple[int, bytes]]:
        """(type id, stored message) of each node at ``position``, in id order. Reads of the present take
        cached current versions that were already valid at ``position`` and fetch (and cache) the rest."""
        cache = self.ctx.cache
        found: dict[int, tuple[int, bytes]] = {}
        missing = ids
        if cache is not None and generation is not None:
            missing = []
            for node_id in ids:
                hit = cache.get(kind, node_id)
                if hit is not None and hit.valid_from <= position:
                    found[node_id] = (hit.type_id, hit.proto)
                else:
                    missing.append(node_id)
        if missing:
            vf, vparams = version_filter("v", position)
            rows = self.ctx.con.execute(
                f"SELECT {node_select(kind)} FROM {kind}_versions v WHERE {vf} "
                "AND v.id IN (SELECT unnest(?::BIGINT[]))",
                [*vparams, missing],
            ).fetchall()
            if cache is not None and generation is not None:
                # Valid at ``position``; current too when no commit has happened since the read began.
                cache.fill(node_rows(kind, rows), generation)
            found.update((r[0], (r[1], r[-1])) for r in rows)
        return [found[i] for i in sorted(found)]

    def _lineage_events(self, reached: Reached, position: int, snap: Snapshot | None) -> list[bytes]:
        """The events between reached artifacts and reached executions at ``position``, framed as
        LineageGraph.events, ordered by log position, artifact, execution and type."""
        a_ids = set(reached.artifact_ids)
        if snap is not None:
            events = self.ctx.links.events(self.ctx.con, snap, reached.execution_ids, position)
            events = sorted((e for e in events if e[1] in a_ids), key=itemgetter(0))
            return [e[2] for e in events]
        tag = bytes([(7 << 3) | 2])
        out = []
        for e in self.events.events_at("execution_id", reached.execution_ids, position):
            if e.artifact_id in a_ids:
                data = e.SerializeToString()
                out.append(tag + varint(len(data)) + data)
        return out
