"""Lineage traversal over events: the subgraph reachable from starting nodes, in one recursive query.

The lineage graph is bipartite (artifacts <-> executions through events). One
hop is one step across an event: an execution is 1 hop from its input
artifact, the artifacts it outputs are 2 hops away (MLMD's counting). Upstream
follows events backwards (artifact -> the execution that output it -> that
execution's inputs); downstream forwards; bidirectional both. Ending nodes are
reached but not expanded. Everything is read as of a log position.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

import duckdb

from mlmd_log.query.asof import version_filter
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

UPSTREAM: Final = mlmd.LineageSubgraphQueryOptions.UPSTREAM
DOWNSTREAM: Final = mlmd.LineageSubgraphQueryOptions.DOWNSTREAM
BIDIRECTIONAL: Final = mlmd.LineageSubgraphQueryOptions.BIDIRECTIONAL

#: Event types that make the artifact an output of the execution (the rest are inputs).
OUTPUT_TYPES: Final = (
    mlmd.Event.OUTPUT, mlmd.Event.DECLARED_OUTPUT, mlmd.Event.INTERNAL_OUTPUT, mlmd.Event.PENDING_OUTPUT,
)


@dataclass(frozen=True, slots=True)
class Reached:
    """Node ids the traversal reached, and whether it stopped early at the node limit."""

    artifact_ids: list[int]
    execution_ids: list[int]
    truncated: bool


def traverse(
    con: duckdb.DuckDBPyConnection,
    *,
    start_kind: str,
    start_ids: Collection[int],
    max_hops: int,
    direction: int,
    position: int | None,
    end_artifacts: Collection[int] = (),
    end_executions: Collection[int] = (),
    include_ending: bool = False,
    max_nodes: int = 100_000,
) -> Reached:
    """Walk events from ``start_ids`` up to ``max_hops`` hops in ``direction``; one recursive SQL query."""
    vf, vparams = version_filter("e", position)
    # An unset direction traces both ways, as MLMD does.
    up = direction != DOWNSTREAM
    down = direction != UPSTREAM
    # Edge list as (from_kind, from_id, to_kind, to_id): the moves allowed in this direction.
    moves = []
    if down:
        moves += [
            "SELECT 'a', artifact_id, 'e', execution_id FROM ev WHERE NOT is_output",
            "SELECT 'e', execution_id, 'a', artifact_id FROM ev WHERE is_output",
        ]
    if up:
        moves += [
            "SELECT 'a', artifact_id, 'e', execution_id FROM ev WHERE is_output",
            "SELECT 'e', execution_id, 'a', artifact_id FROM ev WHERE NOT is_output",
        ]
    sql = f"""
WITH RECURSIVE
ev AS (
    SELECT e.artifact_id, e.execution_id, e.type IN ({', '.join('?' * len(OUTPUT_TYPES))}) AS is_output
    FROM event_versions e WHERE {vf}
),
moves(fk, fid, tk, tid) AS ({' UNION ALL '.join(moves)}),
stops AS (
    SELECT 'a' AS k, unnest(?::BIGINT[]) AS id UNION ALL SELECT 'e', unnest(?::BIGINT[])
),
walk(k, id, hops) AS (
    SELECT ?, unnest(?::BIGINT[]), 0
    UNION
    SELECT m.tk, m.tid, w.hops + 1 FROM walk w JOIN moves m ON m.fk = w.k AND m.fid = w.id
    WHERE w.hops < ? AND (w.hops = 0 OR NOT EXISTS (SELECT 1 FROM stops s WHERE s.k = w.k AND s.id = w.id))
)
SELECT k, id FROM walk GROUP BY k, id ORDER BY min(hops), k, id LIMIT ?
"""  # noqa: S608  # only fixed fragments and placeholder counts are formatted in
    params = [
        *OUTPUT_TYPES, *vparams, list(end_artifacts), list(end_executions),
        "a" if start_kind == "artifact" else "e", list(start_ids), max_hops, max_nodes + 1,
    ]
    rows = con.execute(sql, params).fetchall()
    truncated = len(rows) > max_nodes
    rows = rows[:max_nodes]
    ends = {("a", i) for i in end_artifacts} | {("e", i) for i in end_executions}
    starts = {("a" if start_kind == "artifact" else "e", i) for i in start_ids}
    keep = [(k, i) for k, i in rows if include_ending or (k, i) not in ends or (k, i) in starts]
    return Reached(
        sorted(i for k, i in keep if k == "a"), sorted(i for k, i in keep if k == "e"), truncated
    )
