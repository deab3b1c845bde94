"""The projector's pure core: (batch state, decoded op) -> rows, or the MLMD error that rejects it.

No I/O, no clock, no randomness: every time comes from the log record, every
id from the op (ADR 0001), so replay gives the same rows. Each op applies
wholly or not at all (:class:`~mlmd_log.projector.state.OpTx`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mlmd_log.errors import AlreadyExistsError, InvalidArgumentError, StatusError
from mlmd_log.ids import TypeKind
from mlmd_log.projector.fastpath import insert_new_nodes
from mlmd_log.projector.nodes import alias, insert_node, next_id, put_nodes, resolve, update_node
from mlmd_log.projector.state import BatchState, OpTx
from mlmd_log.schemas.checks import check_edges, check_event, check_type
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.rows import TypeRow
from mlmd_log.schemas.v1 import ops_pb2

_EVENT_TYPE_NAME = {v.number: v.name for v in mlmd.Event.Type.DESCRIPTOR.values}


def _type_text(props: dict[str, int]) -> str:
    names = {v.number: v.name for v in mlmd.PropertyType.DESCRIPTOR.values}
    return ", ".join(f"{k}: {names.get(v, v)}" for k, v in sorted(props.items()))


def put_type(
    tx: OpTx, kind: TypeKind, msg: Any, can_add: bool, can_omit: bool, explicit: int | None = None
) -> int:
    """Register or extend a type; MLMD's compatibility rules for an existing one.

    A new type takes the next id in log order (ADR 0001), or ``explicit`` when the op carries one (an import,
    or a log written when type ids were hashes); an existing type keeps its id.
    """
    check_type(msg)
    given = dict(msg.properties)
    version = msg.version if msg.HasField("version") else None
    stored = tx.type_by_key(kind, msg.name, version)
    if stored is not None and explicit is not None and explicit != stored.id:
        raise AlreadyExistsError(
            f"{kind} type {msg.name!r} already exists with id {stored.id}, not the given id {explicit}"
        )
    if stored is None:
        type_id = explicit if explicit is not None else tx.next_type_id()
        taken = tx.type(type_id)
        if taken is not None:
            raise AlreadyExistsError(
                f"Type id {type_id} of {kind} type {msg.name!r} is taken by {taken.kind} type {taken.name!r}"
            )
        row = TypeRow(
            id=type_id, kind=kind, name=msg.name, version=version,
            description=msg.description if msg.HasField("description") else None,
            external_id=msg.external_id if msg.HasField("external_id") else None,
            base_type=msg.base_type if msg.HasField("base_type") else None,
            input_type=msg.input_type.SerializeToString(deterministic=True) if kind == "execution" and msg.HasField("input_type") else None,
            output_type=msg.output_type.SerializeToString(deterministic=True) if kind == "execution" and msg.HasField("output_type") else None,
            props=given, valid_from=tx.position,
        )
        tx.types[type_id] = row
        tx.type_writes.append((row, None))
        return type_id
    type_id = stored.id
    prefix = "Type already exists with different properties: "
    for prop, data_type in given.items():
        if prop in stored.props and stored.props[prop] != data_type:
            raise AlreadyExistsError(
                f"{prefix}Conflicting property value type found in stored and given types: "
                f"stored_type: {{{_type_text(stored.props)}}}; other_type: {{{_type_text(given)}}}"
            )
    added = given.keys() - stored.props.keys()
    if added and not can_add:
        raise AlreadyExistsError(
            f"{prefix}can_add_fields is false while the given type has more properties: {_type_text(given)}"
        )
    if stored.props.keys() - given.keys() and not can_omit:
        raise AlreadyExistsError(
            f"{prefix}can_omit_fields is false while stored type has more properties: {_type_text(stored.props)}"
        )
    new_external_id = msg.external_id if msg.HasField("external_id") else stored.external_id
    if added or new_external_id != stored.external_id:
        row = TypeRow(
            id=type_id, kind=kind, name=stored.name, version=stored.version, description=stored.description,
            external_id=new_external_id, base_type=stored.base_type, input_type=stored.input_type,
            output_type=stored.output_type, props={**stored.props, **{k: given[k] for k in added}},
            valid_from=tx.position,
        )
        tx.types[type_id] = row
        tx.type_writes.append((row, stored))
    return type_id


def put_event(tx: OpTx, event: Any, time_ms: int) -> None:
    check_event(event)
    if event.HasField("path") and not all(isinstance(step.key, str) for step in event.path.steps):
        # A step key that is not UTF-8 (a proto2 string handed over as bytes) would be stored unnoticed
        # inside the serialized path: fail like text meeting an Arrow column, so the batch is prepared again
        # with every string checked and the op is rejected as undecodable (Projector.prepare).
        raise TypeError("an event path step key is not text")
    artifact_id = resolve(tx, "artifact", event.artifact_id)
    execution_id = resolve(tx, "execution", event.execution_id)
    if tx.get("node:artifact", artifact_id) is None:
        raise InvalidArgumentError(f"No artifact with the given id {event.artifact_id}")
    if tx.get("node:execution", execution_id) is None:
        raise InvalidArgumentError(f"No execution with the given id {event.execution_id}")
    key = (artifact_id, execution_id, event.type)
    fresh = tx.get("fresh", ("artifact", artifact_id)) or tx.get("fresh", ("execution", execution_id))
    if (fresh and tx.state.caches["event"].data.get(key)) or (not fresh and tx.get("event", key)) or (
        tx.local.get("event", {}).get(key)
    ):
        raise AlreadyExistsError(
            f"Given event already exists: artifact_id: {artifact_id} execution_id: {execution_id} "
            f"type: {_EVENT_TYPE_NAME.get(event.type, event.type)} "
            "UNIQUE constraint failed: Event.artifact_id, Event.execution_id, Event.type"
        )
    tx.set("event", key, True)
    tx.events.append(
        (
            artifact_id,
            execution_id,
            event.type,
            event.path.SerializeToString() if event.HasField("path") else None,
            event.milliseconds_since_epoch if event.HasField("milliseconds_since_epoch") else time_ms,
            event.system_metadata.SerializeToString() if event.HasField("system_metadata") else None,
            tx.position,
        )
    )


def link(tx: OpTx, table: str, node_kind: str, node_id: int, context_id: int) -> None:
    """An attribution or association; an existing one is silently kept (MLMD is idempotent here)."""
    context_id = resolve(tx, "context", context_id)
    node_id = resolve(tx, node_kind, node_id)
    if tx.get("node:context", context_id) is None:
        raise InvalidArgumentError("Context id not found.")
    if tx.get(f"node:{node_kind}", node_id) is None:
        raise InvalidArgumentError(f"{node_kind.capitalize()} id not found.")
    key = (node_id, context_id)
    fresh = tx.get("fresh", (node_kind, node_id)) or tx.get("fresh", ("context", context_id))
    if key in tx.local.get(f"rel:{table}", {}) or (
        tx.state.caches[f"rel:{table}"].data.get(key) if fresh else tx.get(f"rel:{table}", key)
    ):
        return
    tx.set(f"rel:{table}", key, True)
    tx.relations.append((table, node_id, context_id))


def put_parent_context(tx: OpTx, edge: Any) -> None:
    child = resolve(tx, "context", edge.child_id)
    parent = resolve(tx, "context", edge.parent_id)
    if (
        child == parent
        or tx.get("node:context", child) is None
        or tx.get("node:context", parent) is None
    ):
        raise InvalidArgumentError(
            "Given parent / child id in the parent_context cannot be found: "
            f"child_id: {edge.child_id} parent_id: {edge.parent_id}"
        )
    if tx.get("rel:parent_context", (child, parent)):
        raise AlreadyExistsError(
            f"Given parent_context already exists: child_id: {child} parent_id: {parent}"
        )
    # A cycle appears when the child is already an ancestor of the parent.
    seen: set[int] = set()
    stack = [parent]
    while stack:
        node = stack.pop()
        if node == child:
            raise InvalidArgumentError("There is a cycle detected of the given relationship.")
        if node in seen:
            continue
        seen.add(node)
        stack.extend(tx.get("up", node) or ())
    tx.set("rel:parent_context", (child, parent), True)
    tx.set("up", child, (*(tx.get("up", child) or ()), parent))
    tx.relations.append(("parent_context", child, parent))


def _upsert(tx: OpTx, kind: str, msg: Any, assigned: Iterator[int], time_ms: int) -> int:
    if msg.HasField("id"):
        return update_node(tx, kind, msg, (), time_ms)
    return insert_node(tx, kind, msg, next_id(assigned, kind), time_ms)


def _artifact(tx: OpTx, msg: Any, reuse_by_external_id: bool, ids: Iterator[int], time_ms: int) -> int:
    if reuse_by_external_id and not msg.HasField("id") and msg.HasField("external_id"):
        existing = tx.get("ext:artifact", msg.external_id)
        if existing is not None:
            alias(tx, "artifact", next_id(ids, "artifact"), existing)
            return int(existing)
    return _upsert(tx, "artifact", msg, ids, time_ms)


def _context(tx: OpTx, msg: Any, reuse: bool, ids: Iterator[int], time_ms: int, force: bool = False) -> int:
    if force and msg.HasField("id"):
        # force_reuse_context: an existing context given by id is linked as it is, never updated.
        context_id = resolve(tx, "context", msg.id)
        if tx.get("node:context", context_id) is None:
            raise InvalidArgumentError(f"Cannot find the given id {msg.id}")
        return context_id
    if reuse and not msg.HasField("id") and msg.HasField("type_id") and msg.name:
        existing = tx.get("name:context", (msg.type_id, msg.name))
        if existing is not None:
            alias(tx, "context", next_id(ids, "context"), existing)
            return int(existing)
    return _upsert(tx, "context", msg, ids, time_ms)


def put_execution(tx: OpTx, req: Any, ids: dict[str, Iterator[int]], time_ms: int) -> None:
    """MLMD's atomic put_execution: execution, artifacts with their events, contexts and links."""
    options = req.options
    execution_id = _upsert(tx, "execution", req.execution, ids["execution"], time_ms)
    artifact_ids = []
    for pair in req.artifact_event_pairs:
        artifact_id = None
        if pair.HasField("artifact"):
            artifact_id = _artifact(
                tx, pair.artifact, options.reuse_artifact_if_already_exist_by_external_id, ids["artifact"], time_ms
            )
            artifact_ids.append(artifact_id)
        if pair.HasField("event"):
            event = mlmd.Event()
            event.CopyFrom(pair.event)
            if artifact_id is not None:
                if event.HasField("artifact_id") and pair.artifact.HasField("id") and event.artifact_id != pair.artifact.id:
                    raise InvalidArgumentError(
                        f"Given event.artifact_id is not aligned with the artifact: event: {event} "
                        f"artifact: {pair.artifact}".replace("\n", " ")
                    )
                event.artifact_id = artifact_id
            event.execution_id = execution_id
            put_event(tx, event, time_ms)
    reuse_context = options.reuse_context_if_already_exist or options.force_reuse_context
    for ctx in req.contexts:
        context_id = _context(tx, ctx, reuse_context, ids["context"], time_ms, options.force_reuse_context)
        for artifact_id in artifact_ids:
            link(tx, "attribution", "artifact", artifact_id, context_id)
        link(tx, "association", "execution", execution_id, context_id)


def put_lineage_subgraph(tx: OpTx, req: Any, ids: dict[str, Iterator[int]], time_ms: int) -> None:
    options = req.options
    execution_ids = [_upsert(tx, "execution", e, ids["execution"], time_ms) for e in req.executions]
    artifact_ids = [
        _artifact(tx, a, options.reuse_artifact_if_already_exist_by_external_id, ids["artifact"], time_ms)
        for a in req.artifacts
    ]
    context_ids = [
        _context(tx, c, options.reuse_context_if_already_exist, ids["context"], time_ms) for c in req.contexts
    ]
    check_edges(req.event_edges, len(req.executions), len(req.artifacts))
    for edge in req.event_edges:
        event = mlmd.Event()
        event.CopyFrom(edge.event)
        event.execution_id = execution_ids[edge.execution_index]
        event.artifact_id = artifact_ids[edge.artifact_index]
        put_event(tx, event, time_ms)
    for context_id in context_ids:
        for artifact_id in artifact_ids:
            link(tx, "attribution", "artifact", artifact_id, context_id)
        for execution_id in execution_ids:
            link(tx, "association", "execution", execution_id, context_id)


def _put_types(tx: OpTx, req: Any, explicit: Iterator[int | None]) -> None:
    flags = (req.can_add_fields, req.can_omit_fields)
    for t in req.artifact_types:
        put_type(tx, "artifact", t, *flags, next(explicit))
    for t in req.execution_types:
        put_type(tx, "execution", t, *flags, next(explicit))
    for t in req.context_types:
        put_type(tx, "context", t, *flags, next(explicit))


def _explicit_type_ids(op: ops_pb2.Operation) -> Iterator[int | None]:
    """The op's given type ids in order, then None for every type without one (ids decided here)."""
    yield from op.assigned_ids.type_ids
    while True:
        yield None


def _paths(req: Any) -> Sequence[str]:
    return list(req.update_mask.paths) if req.HasField("update_mask") else ()


def put_attributions_and_associations(tx: OpTx, links: Any) -> None:
    """Link each attribution's artifact and each association's execution to its context."""
    for a in links.attributions:
        link(tx, "attribution", "artifact", a.artifact_id, a.context_id)
    for s in links.associations:
        link(tx, "association", "execution", s.execution_id, s.context_id)


def apply_op(tx: OpTx, op: ops_pb2.Operation, time_ms: int) -> None:
    """Apply one decoded op to ``tx``; raises the MLMD error that rejects it."""
    payload = op.WhichOneof("payload")
    assigned = op.assigned_ids
    ids = {
        "artifact": iter(assigned.artifact_ids),
        "execution": iter(assigned.execution_ids),
        "context": iter(assigned.context_ids),
    }
    if payload == "lease_ids":
        return
    if payload in ("put_artifacts", "put_executions", "put_contexts"):
        kind = payload[4:-1]
        req: Any = getattr(op, payload)
        put_nodes(tx, kind, getattr(req, f"{kind}s"), _paths(req), ids[kind], time_ms)
    elif payload == "put_events":
        for event in op.put_events.events:
            put_event(tx, event, time_ms)
    elif payload == "put_execution":
        put_execution(tx, op.put_execution, ids, time_ms)
    elif payload == "put_lineage_subgraph":
        put_lineage_subgraph(tx, op.put_lineage_subgraph, ids, time_ms)
    elif payload == "put_attributions_and_associations":
        put_attributions_and_associations(tx, op.put_attributions_and_associations)
    elif payload == "put_parent_contexts":
        for edge in op.put_parent_contexts.parent_contexts:
            put_parent_context(tx, edge)
    elif payload in ("put_artifact_type", "put_execution_type", "put_context_type"):
        type_kind: TypeKind = payload[4:-5]  # one of the three kinds, by the test above
        r: Any = getattr(op, payload)
        explicit = next(_explicit_type_ids(op))
        put_type(tx, type_kind, getattr(r, f"{type_kind}_type"), r.can_add_fields, r.can_omit_fields, explicit)
    elif payload == "put_types":
        _put_types(tx, op.put_types, _explicit_type_ids(op))
    else:
        raise InvalidArgumentError(f"op {op.op_id!r} has no payload this projector knows ({payload!r})")


#: Payloads of new nodes only that :func:`~mlmd_log.projector.fastpath.insert_new_nodes` may take:
#: payload -> (node kind, request field, ``assigned_ids`` field).
_NODE_PAYLOADS = {
    "put_artifacts": ("artifact", "artifacts", "artifact_ids"),
    "put_executions": ("execution", "executions", "execution_ids"),
    "put_contexts": ("context", "contexts", "context_ids"),
}


def apply_in_tx(
    state: BatchState, position: int, op: ops_pb2.Operation, time_ms: int, payload: str | None = None
) -> StatusError | None:
    """Apply ``op`` atomically at ``position``: commit its rows, or return the error and keep nothing.

    ``payload`` is ``op.WhichOneof("payload")`` when the caller has it already.
    """
    if payload is None:
        payload = op.WhichOneof("payload")
    if payload == "lease_ids":
        return None
    fast = _NODE_PAYLOADS.get(payload) if payload is not None else None
    if fast is not None:
        kind, field, ids_field = fast
        msgs = getattr(getattr(op, payload), field)
        if insert_new_nodes(state, kind, msgs, getattr(op.assigned_ids, ids_field), position, time_ms):
            return None
    tx = OpTx(state, position)
    try:
        apply_op(tx, op, time_ms)
    except StatusError as err:
        return err
    tx.commit()
    return None
