"""DuckDB rows -> MLMD protos (artifacts, executions, contexts, types, events)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.rows import NODE_MESSAGE, NodeRow

TYPE_MESSAGE: dict[str, Any] = {
    "artifact": mlmd.ArtifactType, "execution": mlmd.ExecutionType, "context": mlmd.ContextType,
}

#: Columns the node queries select, in order (kind-specific ones are NULL where absent).
NODE_SELECT = (
    "v.id, v.type_id, NULL, v.name, v.external_id, {state}, {uri}, v.create_time_since_epoch, "
    "v.last_update_time_since_epoch, v.system_metadata, v.valid_from, v.proto"
)


def node_select(kind: str) -> str:
    state = {"artifact": "v.state", "execution": "v.last_known_state", "context": "NULL"}[kind]
    uri = "v.uri" if kind == "artifact" else "NULL"
    return NODE_SELECT.format(state=state, uri=uri)


def node_rows(kind: str, rows: Sequence[tuple[Any, ...]]) -> list[NodeRow]:
    """Node versions (without their property maps: the stored message carries them) from node rows."""
    return [
        NodeRow(kind, node_id, type_id, name, external_id, state, uri, ctime, utime, sysmeta, {}, {}, valid_from,
                proto=proto)
        for node_id, type_id, _, name, external_id, state, uri, ctime, utime, sysmeta, valid_from, proto in rows
    ]


def row_proto(row: NodeRow) -> Any:
    """The MLMD message of a stored version (a fresh object the caller may change)."""
    return NODE_MESSAGE[row.kind].FromString(row.proto)


def type_proto(kind: str, row: tuple[Any, ...], props: dict[str, int]) -> Any:
    type_id, name, version, description, external_id, base_type, input_type, output_type = row
    msg = TYPE_MESSAGE[kind](id=type_id, name=name)
    if version is not None:
        msg.version = version
    if description is not None:
        msg.description = description
    if external_id is not None:
        msg.external_id = external_id
    if base_type is not None:
        msg.base_type = base_type
    if input_type is not None:
        msg.input_type.ParseFromString(input_type)
    if output_type is not None:
        msg.output_type.ParseFromString(output_type)
    for prop, data_type in props.items():
        msg.properties[prop] = data_type
    return msg


def event_proto(row: tuple[Any, ...]) -> mlmd.Event:
    artifact_id, execution_id, event_type, path, ms, sysmeta = row
    event = mlmd.Event(artifact_id=artifact_id, execution_id=execution_id, type=event_type)
    if path is not None:
        event.path.ParseFromString(path)
    if ms is not None:
        event.milliseconds_since_epoch = ms
    if sysmeta is not None:
        event.system_metadata.ParseFromString(sysmeta)
    return event
