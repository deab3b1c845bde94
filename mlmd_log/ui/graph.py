"""The lineage graph around a node as of a position, and the difference between two positions.

The graph comes from the store's ``get_lineage_subgraph`` (upstream, downstream,
or both: the union of the two walks, so "both" shows where a node came from and
what came from it, not the whole connected component MLMD's BIDIRECTIONAL
reaches). Nodes carry the contexts they belong to (the grouping), read with one
fixed statement over ``attributions_as_of``/``associations_as_of``. Edges are
events drawn in the direction data flows.

The diff compares two positions: nodes created, given a new version, or gone,
and events added or gone (the store never deletes, so "removed" stays empty
for a log written through MLMD's API), each changed node with its fields before
and after.
"""

from __future__ import annotations

import warnings
from typing import Any, Final

from mlmd_log.errors import InvalidArgumentError, NotFoundError
from mlmd_log.query.reader import Reader
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.ui import sqltext
from mlmd_log.ui.shapes import edge_of, node_detail, node_summary
from mlmd_log.ui.views import find_node, first_version, resolve_position

DIRECTIONS: Final = {
    "up": (mlmd.LineageSubgraphQueryOptions.UPSTREAM,),
    "down": (mlmd.LineageSubgraphQueryOptions.DOWNSTREAM,),
    "both": (mlmd.LineageSubgraphQueryOptions.UPSTREAM, mlmd.LineageSubgraphQueryOptions.DOWNSTREAM),
}
MAX_HOPS: Final = 100
#: The most changed nodes and edges a diff lists.
MAX_DIFF: Final = 5_000


def _check(direction: str, hops: int) -> None:
    if direction not in DIRECTIONS:
        raise InvalidArgumentError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if not 0 <= hops <= MAX_HOPS:
        raise InvalidArgumentError(f"hops must be between 0 and {MAX_HOPS}, not {hops}")


def _walk(store: Reader, node: Any, direction: str, hops: int, position: int) -> tuple[dict[int, Any], list[Any], bool]:
    """Nodes (by id) and events of the lineage around ``node``; whether the store cut the walk short."""
    start = ("starting_executions" if isinstance(node, mlmd.Execution) else "starting_artifacts")
    nodes: dict[int, Any] = {}
    events: dict[tuple[int, int, int], Any] = {}
    truncated = False
    for walk_direction in DIRECTIONS[direction]:
        options = mlmd.LineageSubgraphQueryOptions(max_num_hops=hops, direction=walk_direction)
        getattr(options, start).filter_query = f"id = {int(node.id)}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            graph = store.get_lineage_subgraph(options, ["artifacts", "executions", "events"], as_of=position)
        truncated = truncated or bool(caught)
        nodes.update((a.id, a) for a in graph.artifacts)
        nodes.update((e.id, e) for e in graph.executions)
    if len(DIRECTIONS[direction]) == 1:
        events.update(((e.artifact_id, e.execution_id, e.type), e) for e in graph.events)
    else:  # the union of two walks: every event between its nodes, including those neither walk crossed
        executions = [i for i, n in nodes.items() if isinstance(n, mlmd.Execution)]
        for event in store.get_events_by_execution_ids(executions, as_of=position):
            if event.artifact_id in nodes:
                events[(event.artifact_id, event.execution_id, event.type)] = event
    return nodes, list(events.values()), truncated


def _membership(store: Reader, ids: list[int], position: int) -> tuple[dict[int, list[int]], dict[str, Any]]:
    params = {"position": position, "ids": ids}
    member: dict[int, list[int]] = {}
    if ids:
        for row in store.sql(sqltext.MEMBERSHIP, params).to_pylist():
            member.setdefault(row["node_id"], []).append(row["context_id"])
    return member, params


def lineage(store: Reader, node_id: int, *, direction: str = "up", hops: int = 20,
            as_of: int | None = None) -> dict[str, Any]:
    """The lineage graph around ``node_id``: nodes with their contexts, edges, the contexts, and the SQL."""
    _check(direction, hops)
    position = resolve_position(store, as_of)
    walk_params = {"id": node_id, "hops": hops, "position": position}
    first = first_version(store, node_id)
    if first is not None and first[1] > position:  # sliding back past its creation: an empty graph, said why
        return {
            "position": position, "root": node_id, "direction": direction, "hops": hops, "truncated": False,
            "nodes": [], "edges": [], "contexts": [],
            "note": f"{first[0]} {node_id} did not exist yet at log position {position} "
                    f"(its first version is at {first[1]})",
            "sql": [sqltext.shown(sqltext.LINEAGE_NODES[direction], walk_params, "the nodes the walk reaches")],
        }
    root = find_node(store, node_id, position)
    if isinstance(root, mlmd.Context):
        raise InvalidArgumentError(f"{node_id} is a context: lineage starts at an artifact or an execution")
    nodes, events, truncated = _walk(store, root, direction, hops, position)
    ids = sorted(nodes)
    member, member_params = _membership(store, ids, position)
    context_ids = sorted({c for cs in member.values() for c in cs})
    contexts = [node_summary(c) for c in store.get_contexts_by_id(context_ids, as_of=position)]
    shown_nodes = []
    for i in ids:
        summary = node_summary(nodes[i])
        summary["contexts"] = member.get(i, [])
        shown_nodes.append(summary)
    return {
        "position": position, "root": node_id, "direction": direction, "hops": hops, "truncated": truncated,
        "nodes": shown_nodes, "edges": [edge_of(e) for e in events], "contexts": contexts,
        "sql": [
            sqltext.shown(sqltext.LINEAGE_NODES[direction], walk_params, "the nodes the walk reaches"),
            sqltext.shown(sqltext.LINEAGE_EDGES[direction], walk_params, "the events between them"),
            sqltext.shown(sqltext.MEMBERSHIP, member_params, "the contexts each node belongs to"),
        ],
    }


def _fields(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Fields whose value differs between two versions of a node (properties one by one)."""
    changed = []
    for key in ("name", "uri", "state", "external_id", "update_time_ms"):
        if before.get(key) != after.get(key):
            changed.append({"field": key, "old": before.get(key), "new": after.get(key)})
    for group in ("properties", "custom_properties"):
        old, new = before.get(group, {}), after.get(group, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                changed.append({"field": f"{group}.{name}", "old": old.get(name), "new": new.get(name)})
    return changed


def _nodes_at(store: Reader, ids: list[int], position: int) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for getter in (store.get_artifacts_by_id, store.get_executions_by_id, store.get_contexts_by_id):
        found.update((n.id, n) for n in getter(ids, as_of=position))
    return found


def diff(store: Reader, position_from: int, position_to: int, *, node_id: int | None = None,
         direction: str = "both", hops: int = 20) -> dict[str, Any]:
    """What changed from ``position_from`` to ``position_to``: the whole store, or the lineage of ``node_id``."""
    _check(direction, hops)
    a = resolve_position(store, position_from)
    b = resolve_position(store, position_to)
    params = {"from": a, "to": b, "limit": MAX_DIFF}
    changed_rows = store.sql(sqltext.DIFF_NODES, params).to_pylist()
    edge_rows = store.sql(sqltext.DIFF_EDGES, params).to_pylist()
    status = {r["id"]: r["status"] for r in changed_rows}
    scope: set[int] | None = None
    same_edges: list[Any] = []
    if node_id is not None:
        scope, same_edges = set(), []
        for position in (a, b):
            try:
                root = find_node(store, node_id, position)
            except NotFoundError:  # absent at this end: its lineage there is empty
                continue
            if isinstance(root, mlmd.Context):
                raise InvalidArgumentError(f"{node_id} is a context: lineage starts at an artifact or an execution")
            nodes, events, _ = _walk(store, root, direction, hops, position)
            scope.update(nodes)
            same_edges.extend(events)
    ids = sorted(status if scope is None else scope | {i for i in status if i in scope})
    before, after = _nodes_at(store, ids, a), _nodes_at(store, ids, b)
    shown = []
    for i in ids:
        node = after.get(i) or before.get(i)
        summary = node_summary(node)
        summary["status"] = status.get(i, "same")
        summary["fields"] = (_fields(node_detail(before[i]), node_detail(after[i]))
                             if i in before and i in after and summary["status"] == "changed" else [])
        shown.append(summary)
    edges: dict[tuple[int, int, str], dict[str, Any]] = {}
    for event in same_edges:
        edge = edge_of(event)
        edge["status"] = "same"
        edges[(edge["source"], edge["target"], edge["type"])] = edge
    for row in edge_rows:
        if scope is not None and not (row["artifact_id"] in scope and row["execution_id"] in scope):
            continue
        edge = edge_of(mlmd.Event(artifact_id=row["artifact_id"], execution_id=row["execution_id"], type=row["type"]))
        edge["status"] = row["status"]
        edges[(edge["source"], edge["target"], edge["type"])] = edge
    wanted = {n["id"] for n in shown}
    for edge in edges.values():  # an edge's ends are drawn even when they did not change
        for end in (edge["source"], edge["target"]):
            if end not in wanted:
                node = _nodes_at(store, [end], b).get(end) or _nodes_at(store, [end], a).get(end)
                if node is not None:
                    summary = node_summary(node)
                    summary.update(status="same", fields=[])
                    shown.append(summary)
                    wanted.add(end)
    counts = {s: sum(1 for n in shown if n["status"] == s) for s in ("added", "changed", "removed")}
    edge_counts = {s: sum(1 for e in edges.values() if e["status"] == s) for s in ("added", "removed")}
    return {
        "from": a, "to": b, "root": node_id, "nodes": shown, "edges": list(edges.values()),
        "counts": counts, "edge_counts": edge_counts,
        "sql": [sqltext.shown(sqltext.DIFF_NODES, params, "nodes created, changed or gone"),
                sqltext.shown(sqltext.DIFF_EDGES, params, "events added or gone")],
    }
