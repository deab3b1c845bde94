"""MLMD's rules for writing artifacts, executions and contexts: inserts, updates, masks, uniqueness.

Pure functions over an :class:`~mlmd_log.projector.state.OpTx`; each raises the
MLMD error (class and message prefix) that MLMD raises for the same input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mlmd_log.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from mlmd_log.projector.state import OpTx
from mlmd_log.schemas.rows import (
    SCALAR_FIELDS,
    STATE_FIELD,
    VALUE_TYPE,
    NodeRow,
    PropValue,
    TypeRow,
    node_message,
    prop_value,
)

#: MLMD's table name per kind, as its messages spell it.
TABLE_NAME = {"artifact": "Artifact", "execution": "Execution", "context": "Context"}
#: The message field holding the node's state enum.


def resolve(tx: OpTx, kind: str, node_id: int) -> int:
    """The canonical id for ``node_id`` (aliases come from reuse races, ADR 0001)."""
    canonical = tx.get(f"alias:{kind}", node_id)
    return node_id if canonical is None else int(canonical)


def find_type(tx: OpTx, kind: str, type_id: int) -> TypeRow:
    found = tx.type(type_id)
    if found is None or found.kind != kind:
        raise NotFoundError(f"Cannot find type for type_id: {type_id}No type found for query, type_id: {type_id}")
    return found


def _props(values: Any) -> dict[str, PropValue | None]:
    return {name: prop_value(values[name]) for name in values}  # not items(): see rows.scalar_props


def _validate_props(node_type: TypeRow, props: dict[str, PropValue | None], msg: Any) -> None:
    declared = node_type.props
    for name, pv in sorted(props.items()):  # of several bad properties, name the same one on every replay
        expected = declared.get(name)
        if expected is None:
            raise InvalidArgumentError(
                f"Cannot validate properties of type_id: {node_type.id} {_short(msg)}Found unknown property: {name}"
            )
        if pv is None or VALUE_TYPE[pv[0]] != expected:
            raise InvalidArgumentError(
                f"Cannot validate properties of type_id: {node_type.id} {_short(msg)}"
                f"Found unmatched property type: {name}"
            )


def _short(msg: Any) -> str:
    text = str(msg).replace("\n", " ").strip()
    return text[:200] + " " if text else ""


def _clean(props: dict[str, PropValue | None]) -> dict[str, PropValue]:
    return {k: v for k, v in props.items() if v is not None}


def _new_row(kind: str, msg: Any, node_id: int, time_ms: int, position: int) -> NodeRow:
    state_field = STATE_FIELD[kind]
    return NodeRow(
        kind=kind,
        id=node_id,
        type_id=msg.type_id,
        name=msg.name if msg.HasField("name") else None,
        external_id=msg.external_id if msg.HasField("external_id") else None,
        state=getattr(msg, state_field) if state_field and msg.HasField(state_field) else None,
        uri=(msg.uri if msg.HasField("uri") else "") if kind == "artifact" else None,
        create_time=time_ms,
        update_time=time_ms,
        system_metadata=msg.system_metadata.SerializeToString() if msg.HasField("system_metadata") else None,
        props={},
        custom={},
        valid_from=position,
    )


def _check_unique(tx: OpTx, row: NodeRow, prev: NodeRow | None) -> None:
    kind = row.kind
    if row.name is not None and (prev is None or prev.name != row.name or prev.type_id != row.type_id):
        owner = tx.get(f"name:{kind}", (row.type_id, row.name))
        if owner is not None and owner != row.id:
            raise AlreadyExistsError(
                f'Given node already exists: type_id: {row.type_id}\nname: "{row.name}"\n'
                f"INTERNAL: Cannot create node for type_id: {row.type_id} name: {row.name!r}: "
                f"UNIQUE constraint failed: {TABLE_NAME[kind]}.type_id, {TABLE_NAME[kind]}.name"
            )
    if row.external_id is not None and (prev is None or prev.external_id != row.external_id):
        owner = tx.get(f"ext:{kind}", row.external_id)
        if owner is not None and owner != row.id:
            raise AlreadyExistsError(
                f'Given node already exists: external_id: "{row.external_id}"\n'
                f"INTERNAL: UNIQUE constraint failed: {TABLE_NAME[kind]}.external_id"
            )


def _record(tx: OpTx, row: NodeRow, prev: NodeRow | None) -> None:
    kind = row.kind
    _check_unique(tx, row, prev)
    if prev is not None:
        if prev.name is not None and (prev.name != row.name or prev.type_id != row.type_id):
            tx.set(f"name:{kind}", (prev.type_id, prev.name), None)
        if prev.external_id is not None and prev.external_id != row.external_id:
            tx.set(f"ext:{kind}", prev.external_id, None)
    if row.name is not None:
        tx.set(f"name:{kind}", (row.type_id, row.name), row.id)
    if row.external_id is not None:
        tx.set(f"ext:{kind}", row.external_id, row.id)
    tx.set(f"node:{kind}", row.id, row)
    tx.node_writes.append((row, prev))


def _typed_props(node_type: TypeRow, values: Any, msg: Any) -> dict[str, PropValue]:
    """Convert and check ``properties`` against the type in one pass (the hot path of every insert)."""
    declared = node_type.props
    out: dict[str, PropValue] = {}
    for name in values:
        value = values[name]
        which = value.WhichOneof("value")
        if declared.get(name, -1) != VALUE_TYPE.get(which):
            _reject_props(node_type, values, msg)
        out[name] = (which, getattr(value, which)) if which in SCALAR_FIELDS else prop_value(value)  # type: ignore[assignment]
    return out


def _reject_props(node_type: TypeRow, values: Any, msg: Any) -> None:
    """Raise MLMD's error for the first bad property in name order: a map's iteration order differs between
    processes, and a replay must store the same rejection message (docs/design.md, invariant 6)."""
    declared = node_type.props
    for name in sorted(values):
        if declared.get(name, -1) != VALUE_TYPE.get(values[name].WhichOneof("value")):
            reason = "unknown" if name not in declared else "unmatched"
            raise InvalidArgumentError(
                f"Cannot validate properties of type_id: {node_type.id} {_short(msg)}"
                f"Found {reason} property{' type' if reason == 'unmatched' else ''}: {name}"
            )


def _custom_props(values: Any) -> dict[str, PropValue]:
    out: dict[str, PropValue] = {}
    for name in values:
        value = values[name]
        which = value.WhichOneof("value")
        if which is not None:
            out[name] = (which, getattr(value, which)) if which in SCALAR_FIELDS else prop_value(value)  # type: ignore[assignment]
    return out




def insert_node(tx: OpTx, kind: str, msg: Any, node_id: int, time_ms: int) -> int:
    """Create a node under the id the producer assigned to it."""
    if not msg.HasField("type_id"):
        raise InvalidArgumentError("Type id is missing.")
    node_type = find_type(tx, kind, msg.type_id)
    if kind == "context" and not msg.name:
        raise InvalidArgumentError(
            f"Cannot create node for type_id: {msg.type_id}Context name should not be empty"
        )
    if tx.get(f"node:{kind}", node_id) is not None:
        raise AlreadyExistsError(f"Given node already exists: id {node_id} is already used by a {kind}")
    row = _new_row(kind, msg, node_id, time_ms, tx.position)
    row.props = _typed_props(node_type, msg.properties, msg)
    row.custom = _custom_props(msg.custom_properties)
    row.proto = node_message(row, node_type.name).SerializeToString(deterministic=True)
    _record(tx, row, None)
    tx.set("fresh", (kind, node_id), True)
    return node_id


def _apply_mask(kind: str, msg: Any, cur: NodeRow, row: NodeRow, paths: Sequence[str]) -> None:
    state_field = STATE_FIELD[kind]
    for path in paths:
        head, _, rest = path.partition(".")
        if head in ("properties", "custom_properties"):
            target = row.props if head == "properties" else row.custom
            source = getattr(msg, head)
            if not rest:
                target.clear()
                target.update({k: v for k, v in _props(source).items() if v is not None})
            elif rest in source:
                pv = prop_value(source[rest])
                if head == "properties":
                    target[rest] = pv  # type: ignore[assignment]  # validated below
                elif pv is not None:
                    target[rest] = pv
            else:
                target.pop(rest, None)
        elif head == "uri" and kind == "artifact":
            row.uri = msg.uri if msg.HasField("uri") else ""
        elif head == "external_id":
            row.external_id = msg.external_id if msg.HasField("external_id") else None
        elif state_field is not None and head == state_field:
            row.state = getattr(msg, state_field) if msg.HasField(state_field) else None
        elif head == "name" and kind == "context":
            row.name = msg.name if msg.HasField("name") else None
        elif head == "system_metadata":
            row.system_metadata = (
                msg.system_metadata.SerializeToString() if msg.HasField("system_metadata") else None
            )


def update_node(tx: OpTx, kind: str, msg: Any, paths: Sequence[str], time_ms: int) -> int:
    """Replace a node (or the masked parts of it); a no-op when nothing changes."""
    node_id = resolve(tx, kind, msg.id)
    cur: NodeRow | None = tx.get(f"node:{kind}", node_id)
    if cur is None:
        raise InvalidArgumentError(f"Cannot find the given id {msg.id}")
    if msg.HasField("type_id") and msg.type_id != cur.type_id:
        raise InvalidArgumentError(
            f"Given type_id {msg.type_id} is different from the one known before: {cur.type_id}"
        )
    node_type = find_type(tx, kind, cur.type_id)
    if paths:
        row = NodeRow(
            kind=kind, id=node_id, type_id=cur.type_id, name=cur.name, external_id=cur.external_id,
            state=cur.state, uri=cur.uri, create_time=cur.create_time, update_time=time_ms,
            system_metadata=cur.system_metadata, props=dict(cur.props), custom=dict(cur.custom),
            valid_from=tx.position,
        )
        _apply_mask(kind, msg, cur, row, paths)
        raw_props: dict[str, PropValue | None] = dict(row.props)
    else:
        row = _new_row(kind, msg, node_id, time_ms, tx.position)
        row.type_id = cur.type_id
        row.create_time = cur.create_time
        if kind != "context":
            row.name = cur.name  # artifact and execution names are immutable in MLMD
        row.custom = _custom_props(msg.custom_properties)
    if kind == "context" and not row.name:
        raise InvalidArgumentError(
            f"Cannot create node for type_id: {cur.type_id}Context name should not be empty"
        )
    if paths:
        _validate_props(node_type, raw_props, msg)
        row.props = _clean(raw_props)
    else:
        row.props = _typed_props(node_type, msg.properties, msg) if msg.properties else {}
    if row.same_content(cur):
        return node_id
    if not paths and len(row.custom) == len(msg.custom_properties):
        row.proto = _replaced_message(msg, row, node_type.name)
    else:  # a masked update, or empty custom values dropped: build the message from the row
        row.proto = node_message(row, node_type.name).SerializeToString(deterministic=True)
    _record(tx, row, cur)
    return node_id


def _replaced_message(msg: Any, row: NodeRow, type_name: str) -> bytes:
    """The stored message of a full replace: the given one with the fields MLMD sets (a copy: ``msg`` is the op's)."""
    stored = type(msg)()
    stored.CopyFrom(msg)
    stored.id = row.id
    stored.type_id = row.type_id
    stored.type = type_name
    stored.create_time_since_epoch = row.create_time
    stored.last_update_time_since_epoch = row.update_time
    if row.kind != "context":  # the stored name, which a replace keeps
        if row.name is None:
            stored.ClearField("name")
        else:
            stored.name = row.name
    if row.kind == "artifact" and not stored.HasField("uri"):
        stored.uri = ""
    return bytes(stored.SerializeToString(deterministic=True))


def put_nodes(
    tx: OpTx, kind: str, msgs: Sequence[Any], paths: Sequence[str], assigned: Iterator[int], time_ms: int
) -> list[int]:
    """MLMD's put_artifacts / put_executions / put_contexts: ids in input order."""
    out = []
    fresh: list[tuple[Any, int]] = []
    for msg in msgs:
        if msg.HasField("id"):
            if fresh:
                insert_many(tx, kind, fresh, time_ms)
                fresh = []
            out.append(update_node(tx, kind, msg, paths, time_ms))
        else:
            node_id = next_id(assigned, kind)
            fresh.append((msg, node_id))
            out.append(node_id)
    if fresh:
        insert_many(tx, kind, fresh, time_ms)
    return out


def insert_many(tx: OpTx, kind: str, items: Sequence[tuple[Any, int]], time_ms: int) -> None:
    """:func:`insert_node` for a run of new nodes, with the per-node work cut to the bone (the ingest hot path)."""
    position = tx.position
    state_field = STATE_FIELD[kind]
    is_artifact = kind == "artifact"
    types: dict[int, TypeRow] = {}
    nodes = tx.local.setdefault(f"node:{kind}", {})
    fresh = tx.local.setdefault("fresh", {})
    stored = tx.state.caches[f"node:{kind}"].data
    writes = tx.node_writes
    for msg, node_id in items:
        if not msg.HasField("type_id"):
            raise InvalidArgumentError("Type id is missing.")
        type_id = msg.type_id
        node_type = types.get(type_id)
        if node_type is None:
            node_type = types[type_id] = find_type(tx, kind, type_id)
        name = msg.name if msg.HasField("name") else None
        if kind == "context" and not name:
            raise InvalidArgumentError(f"Cannot create node for type_id: {type_id}Context name should not be empty")
        # Fast test first: the prefetch marked assigned ids as unused; only a miss needs the full lookup.
        if (node_id in nodes or stored.get(node_id, False) is not None) and (
            nodes.get(node_id) is not None or tx.get(f"node:{kind}", node_id) is not None
        ):
            raise AlreadyExistsError(f"Given node already exists: id {node_id} is already used by a {kind}")
        external_id = msg.external_id if msg.HasField("external_id") else None
        custom = _custom_props(msg.custom_properties) if msg.custom_properties else {}
        row = NodeRow(
            kind, node_id, type_id, name, external_id,
            getattr(msg, state_field) if state_field and msg.HasField(state_field) else None,
            (msg.uri if msg.HasField("uri") else "") if is_artifact else None,
            time_ms, time_ms,
            msg.system_metadata.SerializeToString() if msg.HasField("system_metadata") else None,
            _typed_props(node_type, msg.properties, msg) if msg.properties else {},
            custom,
            position,
        )
        if len(custom) == len(msg.custom_properties):
            # The incoming message is the stored one once the fields MLMD sets are set (the hot path).
            msg.id = node_id
            msg.type = node_type.name
            msg.create_time_since_epoch = time_ms
            msg.last_update_time_since_epoch = time_ms
            if is_artifact and not msg.HasField("uri"):
                msg.uri = ""
            row.proto = msg.SerializeToString(deterministic=True)
        else:  # empty custom values are dropped, as MLMD does: rebuild the message from the row
            row.proto = node_message(row, node_type.name).SerializeToString(deterministic=True)
        if name is not None or external_id is not None:
            _record(tx, row, None)
        else:
            nodes[node_id] = row
            writes.append((row, None))
        fresh[(kind, node_id)] = True


def next_id(assigned: Iterator[int], kind: str) -> int:
    try:
        return next(assigned)
    except StopIteration:
        raise InvalidArgumentError(
            f"malformed op: fewer assigned {kind} ids than new {kind}s (the producer assigns one per new node)"
        ) from None


def alias(tx: OpTx, kind: str, alias_id: int, canonical: int) -> None:
    """Make ``alias_id`` (an id a producer handed out) name ``canonical`` from now on."""
    if alias_id == canonical:
        return
    if tx.get(f"node:{kind}", alias_id) is not None:
        raise AlreadyExistsError(f"Given node already exists: id {alias_id} is already used by a {kind}")
    tx.set(f"alias:{kind}", alias_id, canonical)
    tx.aliases.append((kind, alias_id, canonical))
