"""Lineage traversal over events: the subgraph reachable from starting nodes.

Two walks with one meaning: :func:`walk` goes breadth first over the in-memory
link index (query/lineage_index.py), reading only each hop's frontier; the
recursive SQL query of :func:`traverse` serves event tables too large to index.

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
import numpy as np

from mlmd_log.query.asof import version_filter
from mlmd_log.query.lineage_index import OUTPUT_TYPES, Snapshot, walk_step
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

UPSTREAM: Final = mlmd.LineageSubgraphQueryOptions.UPSTREAM
DOWNSTREAM: Final = mlmd.LineageSubgraphQueryOptions.DOWNSTREAM
BIDIRECTIONAL: Final = mlmd.LineageSubgraphQueryOptions.BIDIRECTIONAL

@dataclass(frozen=True, slots=True)
class Reached:
    """Node ids the traversal reached, and whether it stopped early at the node limit."""

    artifact_ids: list[int]
    execution_ids: list[int]
    truncated: bool


def walk(
    snap: Snapshot,
    *,
    start_kind: str,
    start_ids: Collection[int],
    max_hops: int,
    direction: int,
    position: int,
    end_artifacts: Collection[int] = (),
    end_executions: Collection[int] = (),
    include_ending: bool = False,
    max_nodes: int = 100_000,
) -> Reached:
    """The same walk as :func:`traverse`, breadth first over the in-memory index: each hop reads only the
    links of its frontier. Nodes are ranked as the SQL walk ranks them (fewest hops, artifacts before
    executions, id) before the ``max_nodes`` cut."""
    up = direction != DOWNSTREAM
    down = direction != UPSTREAM
    starts = sorted(set(start_ids))
    seen_a: set[int] = set(starts) if start_kind == "artifact" else set()
    seen_e: set[int] = set(starts) if start_kind != "artifact" else set()
    frontier_a, frontier_e = sorted(seen_a), sorted(seen_e)
    stop_a, stop_e = set(end_artifacts), set(end_executions)
    ranked: list[tuple[str, list[int]]] = [("a", frontier_a), ("e", frontier_e)]
    count = len(starts)
    hops = 0
    while hops < max_hops and count <= max_nodes and (frontier_a or frontier_e):
        if hops > 0:  # ending nodes are reached but not expanded (starting nodes always are)
            frontier_a = [i for i in frontier_a if i not in stop_a] if stop_a else frontier_a
            frontier_e = [i for i in frontier_e if i not in stop_e] if stop_e else frontier_e
        from_a = np.asarray(frontier_a, np.int64)
        from_e = np.asarray(frontier_e, np.int64)
        # Downstream: artifact -> executions it is an input of; execution -> artifacts it output.
        # Upstream: artifact -> executions that output it; execution -> its input artifacts.
        next_e: set[int] = set()
        next_a: set[int] = set()
        for output, on in ((False, down), (True, up)):
            if on and len(from_a):
                next_e.update(walk_step(snap, True, from_a, output, position).tolist())
        for output, on in ((True, down), (False, up)):
            if on and len(from_e):
                next_a.update(walk_step(snap, False, from_e, output, position).tolist())
        frontier_a = sorted(next_a - seen_a)
        frontier_e = sorted(next_e - seen_e)
        seen_a.update(frontier_a)
        seen_e.update(frontier_e)
        ranked += [("a", frontier_a), ("e", frontier_e)]
        count += len(frontier_a) + len(frontier_e)
        hops += 1
    ordered = [(k, i) for k, ids in ranked for i in ids]
    truncated = len(ordered) > max_nodes
    return _reached(ordered[:max_nodes], start_kind, start_ids, end_artifacts, end_executions, include_ending,
                    truncated)


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
    return _reached(rows[:max_nodes], start_kind, start_ids, end_artifacts, end_executions, include_ending,
                    truncated)


def _reached(
    rows: list[tuple[str, int]], start_kind: str, start_ids: Collection[int], end_artifacts: Collection[int],
    end_executions: Collection[int], include_ending: bool, truncated: bool,
) -> Reached:
    """The walk's result: ending nodes dropped unless ``include_ending`` (or they are starting nodes)."""
    if include_ending:
        keep = rows
    else:
        ends = {("a", i) for i in end_artifacts} | {("e", i) for i in end_executions}
        starts = {("a" if start_kind == "artifact" else "e", i) for i in start_ids}
        keep = [(k, i) for k, i in rows if (k, i) not in ends or (k, i) in starts]
    return Reached(
        sorted(i for k, i in keep if k == "a"), sorted(i for k, i in keep if k == "e"), truncated
    )
