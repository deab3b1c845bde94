"""The UI's read views that are not graphs: search, a node's page, the log's positions, the runs.

Each function takes a store (anything with the read API of
:class:`~mlmd_log.query.reader.Reader`) and returns a JSON-ready dict that
includes ``sql``: the statements, with parameters, that give the same rows.
Reads go through the store's API (reads by id with ``as_of``,
``get_history``, ``get_nodes_page`` with a ``filter_query``, ``sql`` with
fixed statements and parameters); no SQL is ever built from a request's text.
"""

from __future__ import annotations

from typing import Any, Final

from mlmd_log.errors import InvalidArgumentError, NotFoundError
from mlmd_log.query.options import ListOptions
from mlmd_log.query.reader import Reader
from mlmd_log.ui import sqltext
from mlmd_log.ui.shapes import KINDS, event_detail, node_detail, node_summary, value_of

#: The most rows a search, a listing or the position list returns.
MAX_RESULTS: Final = 200
MAX_POSITIONS: Final = 10_000


def resolve_position(store: Reader, as_of: int | None) -> int:
    """The log position a view reads at: ``as_of`` when given (checked against the log), else the latest."""
    last = store.log_position()
    if as_of is None:
        return last
    if as_of < -1 or as_of > last:
        raise InvalidArgumentError(f"as_of must be a log position between -1 and {last}, not {as_of}")
    return as_of


def search(store: Reader, *, text: str = "", filter_query: str = "", kind: str = "artifact",
           as_of: int | None = None) -> dict[str, Any]:
    """Nodes whose name, uri, type or id matches ``text``, or nodes of ``kind`` matching ``filter_query``."""
    position = resolve_position(store, as_of)
    if filter_query:
        if kind not in KINDS:
            raise InvalidArgumentError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        nodes, _ = store.get_nodes_page(kind, ListOptions(limit=MAX_RESULTS, filter_query=filter_query),
                                        as_of=position)
        results = [node_summary(n) for n in nodes]
        call = (f"store.get_nodes_page({kind!r}, ListOptions(limit={MAX_RESULTS}, filter_query={filter_query!r}), "
                f"as_of={position})")
        return {"position": position, "results": results, "api": call, "sql": []}
    if not text.strip():
        return {"position": position, "results": [], "sql": []}
    params = {"position": position, "text": text.strip(), "limit": MAX_RESULTS}
    rows = store.sql(sqltext.SEARCH, params).to_pylist()
    results = [{"id": r["id"], "kind": r["kind"], "type": r["type"], "name": r["name"], "uri": r["uri"] or None,
                "label": r["name"] or f"{r['type']} {r['id']}"} for r in rows]
    return {"position": position, "results": results,
            "sql": [sqltext.shown(sqltext.SEARCH, params, "nodes matching the text")]}


def first_version(store: Reader, node_id: int) -> tuple[str, int] | None:
    """The kind of node ``node_id`` and the position of its first version (None if it never existed)."""
    for kind in KINDS:
        try:
            versions = store.get_history(kind, node_id)
        except NotFoundError:
            continue
        return kind, versions[0].valid_from
    return None


def find_node(store: Reader, node_id: int, position: int) -> Any:
    """The node with ``node_id`` at ``position`` (ids are unique across kinds), or NotFoundError saying why."""
    for getter in (store.get_artifacts_by_id, store.get_executions_by_id, store.get_contexts_by_id):
        found = getter([node_id], as_of=position)
        if found:
            return found[0]
    first = first_version(store, node_id)
    if first is not None:
        raise NotFoundError(f"{first[0]} {node_id} did not exist yet at log position {position} "
                            f"(its first version is at {first[1]})")
    raise NotFoundError(f"no artifact, execution or context with id {node_id}")


def _contexts_of(store: Reader, node: Any, kind: str, position: int) -> list[dict[str, Any]]:
    """The contexts of an artifact or execution, or a context's parents (none is an empty list here, where
    MLMD's get_contexts_by_* raise NotFoundError)."""
    try:
        if kind == "artifact":
            contexts = store.get_contexts_by_artifact(node.id, as_of=position)
        elif kind == "execution":
            contexts = store.get_contexts_by_execution(node.id, as_of=position)
        else:
            contexts = store.get_parent_contexts_by_context(node.id, as_of=position)
    except NotFoundError:
        contexts = []
    return [node_summary(c) for c in sorted(contexts, key=lambda c: c.id)]


def _events_of(store: Reader, node: Any, kind: str, position: int) -> list[dict[str, Any]]:
    """The node's events, each with the node at its other end (an execution for an artifact, and back)."""
    if kind == "context":
        return []
    others: dict[int, Any]
    if kind == "artifact":
        events = store.get_events_by_artifact_ids([node.id], as_of=position)
        found: list[Any] = store.get_executions_by_id([e.execution_id for e in events], as_of=position)
    else:
        events = store.get_events_by_execution_ids([node.id], as_of=position)
        found = store.get_artifacts_by_id([e.artifact_id for e in events], as_of=position)
    others = {n.id: n for n in found}
    out = []
    for event in events:
        shown = event_detail(event)
        other = others.get(event.execution_id if kind == "artifact" else event.artifact_id)
        shown["other"] = node_summary(other) if other is not None else None
        out.append(shown)
    return out


def _members_of(store: Reader, node: Any, position: int) -> dict[str, list[dict[str, Any]]]:
    """A context's artifacts, executions and child contexts (MLMD's attributions, associations, parents)."""
    return {
        "artifacts": [node_summary(n) for n in store.get_artifacts_by_context(node.id, as_of=position)],
        "executions": [node_summary(n) for n in store.get_executions_by_context(node.id, as_of=position)],
        "children": [node_summary(n) for n in store.get_children_contexts_by_context(node.id, as_of=position)],
    }


def node_page(store: Reader, node_id: int, as_of: int | None = None) -> dict[str, Any]:
    """Everything about a node at a position: fields, properties, events, contexts, and every version."""
    position = resolve_position(store, as_of)
    node = find_node(store, node_id, position)
    kind = node_detail(node)["kind"]
    page = node_detail(node)
    page["position"] = position
    page["contexts"] = _contexts_of(store, node, kind, position)
    page["events"] = _events_of(store, node, kind, position)
    if kind == "context":
        page["members"] = _members_of(store, node, position)
    versions = []
    for version in store.get_history(kind, node_id):
        change = version.change
        versions.append({
            "valid_from": version.valid_from, "valid_to": version.valid_to, "op": change.payload,
            "outcome": change.outcome, "team": change.team, "service": change.service, "user": change.user,
            "host": change.host, "time_ms": change.time_ms, "current_at_position": version.valid_from <= position
            and (version.valid_to is None or version.valid_to > position),
            "properties": {k: value_of(v) for k, v in sorted(version.node.properties.items())},
            "custom_properties": {k: value_of(v) for k, v in sorted(version.node.custom_properties.items())},
            "state": node_detail(version.node)["state"],
        })
    page["versions"] = versions
    page["sql"] = [
        sqltext.shown(sqltext.NODE[kind], {"position": position, "id": node_id}, "the node and its properties"),
        sqltext.shown(sqltext.HISTORY[kind], {"id": node_id}, "every version and the op that wrote it"),
    ]
    return page


def positions(store: Reader) -> dict[str, Any]:
    """The log's positions with their times and ops, newest first (the slider's stops)."""
    last = store.log_position()
    changes = store.get_changes(after=max(-1, last - MAX_POSITIONS))
    stops = [{"position": c.position, "time_ms": c.time_ms, "op": c.payload, "outcome": c.outcome,
              "service": c.service} for c in changes]
    return {"last": last, "positions": stops, "truncated": last + 1 > len(stops),
            "sql": [sqltext.shown(sqltext.POSITIONS, {"limit": MAX_POSITIONS}, "the log's positions and times")]}


def context_spans(store: Reader) -> dict[str, Any]:
    """Every context with the first and last position that wrote it (pick two runs to diff)."""
    params = {"limit": MAX_RESULTS * 5}
    rows = store.sql(sqltext.CONTEXT_SPANS, params).to_pylist()
    return {"contexts": rows,
            "sql": [sqltext.shown(sqltext.CONTEXT_SPANS, params, "each context's first and last position")]}
