"""Rows of the projection as Python objects: node versions, type versions, property values.

The projector's core works on these plain objects; the writer turns lists of
them into Arrow tables and the query layer turns DuckDB rows back into MLMD
protos. A property value is a pair ``(column, value)`` where ``column`` names
the ``*_property_versions`` column that holds it, so that equality, storage and
filtering agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf import json_format

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

PropValue = tuple[str, Any]

#: Value oneof field -> the PropertyType enum value it satisfies.
VALUE_TYPE: Final[dict[str, int]] = {
    "int_value": mlmd.INT,
    "double_value": mlmd.DOUBLE,
    "string_value": mlmd.STRING,
    "struct_value": mlmd.STRUCT,
    "proto_value": mlmd.PROTO,
    "bool_value": mlmd.BOOLEAN,
}

VALUE_COLUMNS: Final[tuple[str, ...]] = (
    "int_value",
    "double_value",
    "string_value",
    "bool_value",
    "struct_value",
    "proto_value",
)


#: Value fields stored as they are (struct and proto values are normalized by :func:`prop_value`).
SCALAR_FIELDS: Final = frozenset(("int_value", "double_value", "string_value", "bool_value"))
#: The message field holding each node kind's state enum.
STATE_FIELD: Final[dict[str, str | None]] = {"artifact": "state", "execution": "last_known_state", "context": None}


def scalar_props(values: Any) -> dict[str, PropValue] | None:
    """A property map as the property tables hold it, when every value is a plain scalar; else None (an unset
    value, a struct or a proto value: callers take their general path then)."""
    out: dict[str, PropValue] = {}
    for name in values:  # keys, then a lookup: a protobuf map's items() runs a Python generator (~40% slower)
        value = values[name]
        which = value.WhichOneof("value")
        if which not in SCALAR_FIELDS:
            return None
        out[name] = (which, getattr(value, which))
    return out


def prop_value(value: mlmd.Value) -> PropValue | None:
    """The stored form of an MLMD ``Value`` (None when no oneof field is set)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "struct_value":
        as_dict = json_format.MessageToDict(value.struct_value)
        return which, json.dumps(as_dict, sort_keys=True, separators=(",", ":"))
    if which == "proto_value":
        return which, value.proto_value.SerializeToString(deterministic=True)
    return which, getattr(value, which)


def to_value(pv: PropValue, out: mlmd.Value) -> None:
    """Fill ``out`` from a stored property value."""
    column, raw = pv
    if column == "struct_value":
        json_format.ParseDict(json.loads(raw), out.struct_value)
    elif column == "proto_value":
        out.proto_value.ParseFromString(raw)
    else:
        setattr(out, column, raw)


@dataclass(slots=True, eq=False)
class NodeRow:
    """One version of an artifact, execution or context."""

    kind: str
    id: int
    type_id: int
    name: str | None
    external_id: str | None
    #: Artifact.state or Execution.last_known_state; None for contexts or when unset.
    state: int | None
    #: Artifacts only; '' when unset, as MLMD stores it.
    uri: str | None
    create_time: int
    update_time: int
    system_metadata: bytes | None
    props: dict[str, PropValue]
    custom: dict[str, PropValue]
    valid_from: int
    valid_to: int | None = None
    #: True when this version is already stored (closing it needs an UPDATE).
    in_db: bool = False
    #: The version as MLMD's message, serialized (what reads return).
    proto: bytes = b""

    def same_content(self, other: NodeRow) -> bool:
        """True when ``other`` records the same facts (ignoring times and positions)."""
        return (
            self.type_id == other.type_id
            and self.name == other.name
            and self.external_id == other.external_id
            and self.state == other.state
            and self.uri == other.uri
            and self.system_metadata == other.system_metadata
            and self.props == other.props
            and self.custom == other.custom
        )


@dataclass(slots=True, eq=False)
class TypeRow:
    """One version of an artifact, execution or context type."""

    id: int
    kind: str
    name: str
    version: str | None
    description: str | None
    external_id: str | None
    base_type: int | None
    input_type: bytes | None
    output_type: bytes | None
    props: dict[str, int]
    valid_from: int
    valid_to: int | None = None
    in_db: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


NODE_MESSAGE: Final[dict[str, Any]] = {"artifact": mlmd.Artifact, "execution": mlmd.Execution, "context": mlmd.Context}


def node_message(row: NodeRow, type_name: str) -> Any:
    """The MLMD message for a node version (a fresh object)."""
    msg = NODE_MESSAGE[row.kind](
        id=row.id, type_id=row.type_id, type=type_name,
        create_time_since_epoch=row.create_time, last_update_time_since_epoch=row.update_time,
    )
    if row.name is not None:
        msg.name = row.name
    if row.external_id is not None:
        msg.external_id = row.external_id
    if row.state is not None:
        setattr(msg, "state" if row.kind == "artifact" else "last_known_state", row.state)
    if row.uri is not None:
        msg.uri = row.uri
    if row.system_metadata is not None:
        msg.system_metadata.ParseFromString(row.system_metadata)
    for props, target in ((row.props, msg.properties), (row.custom, msg.custom_properties)):
        for name in sorted(props):
            to_value(props[name], target[name])
    return msg
