"""DuckDB rows -> MLMD protos (artifacts, executions, contexts, types, events)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mlmd_log.projector.model import VALUE_COLUMNS, to_value
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

NODE_MESSAGE: dict[str, Any] = {"artifact": mlmd.Artifact, "execution": mlmd.Execution, "context": mlmd.Context}
TYPE_MESSAGE: dict[str, Any] = {
    "artifact": mlmd.ArtifactType, "execution": mlmd.ExecutionType, "context": mlmd.ContextType,
}

#: Columns the node queries select, in order (kind-specific ones are NULL where absent).
NODE_SELECT = (
    "v.id, v.type_id, t.name, v.name, v.external_id, {state}, {uri}, v.create_time_since_epoch, "
    "v.last_update_time_since_epoch, v.system_metadata, v.valid_from"
)


def node_select(kind: str) -> str:
    state = {"artifact": "v.state", "execution": "v.last_known_state", "context": "NULL"}[kind]
    uri = "v.uri" if kind == "artifact" else "NULL"
    return NODE_SELECT.format(state=state, uri=uri)


def node_protos(kind: str, rows: Sequence[tuple[Any, ...]], props: Iterable[tuple[Any, ...]]) -> list[Any]:
    """Build node messages from node rows and their property rows ``(id, name, is_custom, *values)``."""
    cls = NODE_MESSAGE[kind]
    out = []
    by_id: dict[int, Any] = {}
    for node_id, type_id, type_name, name, external_id, state, uri, ctime, utime, sysmeta, _ in rows:
        msg = cls(id=node_id, type_id=type_id, type=type_name,
                  create_time_since_epoch=ctime, last_update_time_since_epoch=utime)
        if name is not None:
            msg.name = name
        if external_id is not None:
            msg.external_id = external_id
        if state is not None:
            setattr(msg, "state" if kind == "artifact" else "last_known_state", state)
        if uri is not None:
            msg.uri = uri
        if sysmeta is not None:
            msg.system_metadata.ParseFromString(sysmeta)
        out.append(msg)
        by_id[node_id] = msg
    for node_id, name, is_custom, *values in props:
        msg = by_id.get(node_id)
        if msg is None:
            continue
        target = (msg.custom_properties if is_custom else msg.properties)[name]
        for column, value in zip(VALUE_COLUMNS, values, strict=True):
            if value is not None:
                to_value((column, value), target)
                break
    return out


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
