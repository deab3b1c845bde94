"""Bulk-load, before a batch, every key its ops will look up, so the core rarely queries one by one.

Correctness does not depend on this module (the caches load missing keys on
demand); throughput does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlmd_log.projector.state import KINDS, BatchState
from mlmd_log.schemas.v1 import ops_pb2


class _Keys:
    def __init__(self) -> None:
        self.nodes: dict[str, set[int]] = {k: set() for k in KINDS}
        #: Ids producers assigned to new nodes: expected to be unused, so checked by one range query.
        self.assigned: dict[str, set[int]] = {k: set() for k in KINDS}
        self.names: dict[str, set[tuple[int, str]]] = {k: set() for k in KINDS}
        self.ext: dict[str, set[str]] = {k: set() for k in KINDS}
        self.parent_children: set[int] = set()
        #: Events and links whose existence the batch will ask about (between stored nodes).
        self.events: set[tuple[int, int, int]] = set()
        self.links: dict[str, set[tuple[int, int]]] = {"attribution": set(), "association": set()}

    def node_msgs(self, kind: str, msgs: Iterable[Any], assigned: Iterable[int]) -> None:
        ids, names, ext = self.nodes[kind], self.names[kind], self.ext[kind]
        self.assigned[kind].update(assigned)
        for m in msgs:
            if m.HasField("id"):
                ids.add(m.id)
            if m.HasField("name") and m.HasField("type_id"):
                names.add((m.type_id, m.name))
            if m.HasField("external_id"):
                ext.add(m.external_id)


def prefetch(state: BatchState, ops: Iterable[ops_pb2.Operation]) -> None:
    keys = _Keys()
    for op in ops:
        payload = op.WhichOneof("payload")
        a = op.assigned_ids
        if payload == "put_artifacts":
            keys.node_msgs("artifact", op.put_artifacts.artifacts, a.artifact_ids)
        elif payload == "put_executions":
            keys.node_msgs("execution", op.put_executions.executions, a.execution_ids)
        elif payload == "put_contexts":
            keys.node_msgs("context", op.put_contexts.contexts, a.context_ids)
        elif payload == "put_events":
            for e in op.put_events.events:
                keys.nodes["artifact"].add(e.artifact_id)
                keys.nodes["execution"].add(e.execution_id)
                keys.events.add((e.artifact_id, e.execution_id, e.type))
        elif payload in ("put_execution", "put_lineage_subgraph"):
            req = getattr(op, payload)
            if payload == "put_execution":
                keys.node_msgs("execution", [req.execution], a.execution_ids)
                keys.node_msgs("artifact", [p.artifact for p in req.artifact_event_pairs if p.HasField("artifact")], a.artifact_ids)
            else:
                keys.node_msgs("execution", req.executions, a.execution_ids)
                keys.node_msgs("artifact", req.artifacts, a.artifact_ids)
            keys.node_msgs("context", req.contexts, a.context_ids)
        elif payload == "put_attributions_and_associations":
            req = op.put_attributions_and_associations
            for x in req.attributions:
                keys.nodes["artifact"].add(x.artifact_id)
                keys.nodes["context"].add(x.context_id)
                keys.links["attribution"].add((x.artifact_id, x.context_id))
            for y in req.associations:
                keys.nodes["execution"].add(y.execution_id)
                keys.nodes["context"].add(y.context_id)
                keys.links["association"].add((y.execution_id, y.context_id))
        elif payload == "put_parent_contexts":
            for edge in op.put_parent_contexts.parent_contexts:
                keys.nodes["context"].update((edge.child_id, edge.parent_id))
                keys.parent_children.add(edge.child_id)
    caches = state.caches
    for kind in KINDS:
        fresh = keys.assigned[kind] - keys.nodes[kind]
        if fresh:
            suspects = state.memo.maybe_used(kind, fresh)
            used = state.lookups.existing_ids(kind, min(suspects), max(suspects)) & suspects if suspects else set()
            node_cache = caches[f"node:{kind}"]
            node_cache.prefetch(used)
            node_cache.data.update(dict.fromkeys(fresh - used - node_cache.data.keys()))
        caches[f"alias:{kind}"].prefetch(keys.nodes[kind])
        caches[f"node:{kind}"].prefetch(keys.nodes[kind])
        caches[f"name:{kind}"].prefetch(keys.names[kind])
        caches[f"ext:{kind}"].prefetch(keys.ext[kind])
    caches["up"].prefetch(keys.parent_children)
    caches["event"].prefetch(keys.events)
    for table, pairs in keys.links.items():
        caches[f"rel:{table}"].prefetch(pairs)
