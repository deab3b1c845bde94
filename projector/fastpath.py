"""The common op on a short path: ``put_artifacts`` / ``put_executions`` / ``put_contexts`` of new nodes only.

Most of a log is such ops, and on the general path most of their cost is per
op: a per-op transaction (:class:`~mlmd_log.projector.state.OpTx`), its local caches and
the commit that folds them in. This path checks the whole op first against the
batch state, changing nothing, and writes its rows straight into the batch
only when every check passed, so the op still applies wholly or not at all.
Whatever it is not sure of (a message with an id, an id or name it cannot
prove free from the prefetched caches, a property that does not match its
type, an unset custom value, ...) makes it decline, and the general path
(:mod:`~mlmd_log.projector.nodes`) applies the op, raising MLMD's exact error
when there is one. Declining costs only the checks, so it never changes an
outcome: both paths write the same rows and cache entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlmd_log.projector.state import BatchState
from mlmd_log.schemas.rows import (
    SCALAR_FIELDS,
    STATE_FIELD,
    VALUE_TYPE,
    NodeRow,
    PropValue,
    TypeRow,
    scalar_props,
)

#: The batch caches a kind's inserts touch: nodes by id, ids by (type id, name), ids by external id.
_CACHES = {kind: (f"node:{kind}", f"name:{kind}", f"ext:{kind}") for kind in STATE_FIELD}
#: PropertyType -> the Value field a plain scalar of that type sets (struct and proto values are
#: normalized by the general path, so they have none here).
_SCALAR_FIELD_OF = {VALUE_TYPE[f]: f for f in SCALAR_FIELDS}


def _declared_fields(node_type: TypeRow) -> dict[str, str]:
    """Property name -> the Value field its declared type takes, for the scalar types; kept on the type row.

    A type row never changes (a changed type is a new row), so the map is built once per type version.
    """
    fields: dict[str, str] | None = node_type.extra.get("scalar_fields")
    if fields is None:
        fields = node_type.extra["scalar_fields"] = {
            name: _SCALAR_FIELD_OF[t] for name, t in node_type.props.items() if t in _SCALAR_FIELD_OF
        }
    return fields


def insert_new_nodes(
    state: BatchState, kind: str, msgs: Sequence[Any], assigned: Sequence[int], position: int, time_ms: int
) -> bool:
    """Insert ``msgs`` (none with an id) under the ``assigned`` ids; False, having changed nothing, to decline."""
    count = len(msgs)
    if count == 0 or len(assigned) < count:
        return False
    caches = state.caches
    node_cache, name_cache, ext_cache = _CACHES[kind]
    stored = caches[node_cache].data
    types = state.types
    state_field = STATE_FIELD[kind]
    is_artifact = kind == "artifact"
    rows: list[NodeRow] = []
    keys: set[Any] | None = None  # names and external ids claimed by earlier messages of this op
    # The messages of an op mostly share one type: its row and field map are looked up when the type changes.
    last_type_id: int | None = None
    declared: dict[str, str] = {}
    # Assigned ids beyond the messages are ignored, as on the general path.
    for msg, node_id in zip(msgs, assigned, strict=False):
        if msg.HasField("id") or not msg.HasField("type_id") or stored.get(node_id, False) is not None:
            return False  # an update, a missing type id, or an id not proven unused: the general path
        type_id = msg.type_id
        if type_id != last_type_id:
            node_type = types.get(type_id)
            if node_type is None or node_type.kind != kind:
                return False
            declared, last_type_id = _declared_fields(node_type), type_id
        name = external_id = None
        if msg.HasField("name"):
            name = msg.name
            keys = keys or set()
            key = (type_id, name)
            if not name or caches[name_cache].data.get(key, False) is not None or key in keys:
                return False
            keys.add(key)
        elif kind == "context":
            return False
        if msg.HasField("external_id"):
            external_id = msg.external_id
            keys = keys or set()
            if caches[ext_cache].data.get(external_id, False) is not None or external_id in keys:
                return False
            keys.add(external_id)
        props: dict[str, PropValue] = {}
        values = msg.properties
        for prop in values:  # keys, then a lookup: a protobuf map's items() runs a Python generator
            value = values[prop]
            which = value.WhichOneof("value")
            if declared.get(prop, "") != which:  # undeclared, another type, unset, struct or proto: decline
                return False
            props[prop] = (which, getattr(value, which))
        values = msg.custom_properties
        custom = scalar_props(values) if values else {}
        if custom is None:
            return False
        rows.append(NodeRow(
            kind, node_id, type_id, name, external_id,
            getattr(msg, state_field) if state_field and msg.HasField(state_field) else None,
            msg.uri if is_artifact else None,  # '' when unset, as MLMD stores it
            time_ms, time_ms,
            msg.system_metadata.SerializeToString() if msg.HasField("system_metadata") else None,
            props, custom, position,
        ))
    if count > 1 and len(set(assigned[:count])) < count:
        return False  # one id assigned twice: the general path names the error
    # Every check passed: from here on nothing can fail, so the rows go straight into the batch.
    fresh = caches["fresh"].data
    written = state.written
    w_nodes = written.setdefault(node_cache, {})
    w_fresh = written.setdefault("fresh", {})
    versions = state.out.versions[kind]
    for msg, row in zip(msgs, rows, strict=True):
        node_id = row.id
        # The incoming message is the stored one once the fields MLMD sets are set.
        msg.id = node_id
        msg.type = types[row.type_id].name
        msg.create_time_since_epoch = time_ms
        msg.last_update_time_since_epoch = time_ms
        if is_artifact and not row.uri:
            msg.uri = row.uri
        row.proto = msg.SerializeToString(deterministic=True)
        stored[node_id] = w_nodes[node_id] = row
        key = (kind, node_id)
        fresh[key] = w_fresh[key] = True
        versions.append(row)
        if keys:
            if row.name is not None:
                state.note(name_cache, (row.type_id, row.name), node_id)
            if row.external_id is not None:
                state.note(ext_cache, row.external_id, node_id)
    return True
