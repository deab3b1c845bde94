"""DuckDB rows -> MLMD protos (artifacts, executions, contexts, types, events)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.rows import VALUE_COLUMNS, NodeRow, to_value

NODE_MESSAGE: dict[str, Any] = {"artifact": mlmd.Artifact, "execution": mlmd.Execution, "context": mlmd.Context}
TYPE_MESSAGE: dict[str, Any] = {
    "artifact": mlmd.ArtifactType, "execution": mlmd.ExecutionType, "context": mlmd.ContextType,
}

#: Columns the node queries select, in order (kind-specific ones are NULL where absent).
NODE_SELECT = (
    "v.id, v.type_id, NULL, v.name, v.external_id, {state}, {uri}, v.create_time_since_epoch, "
    "v.last_update_time_since_epoch, v.system_metadata, v.valid_from"
)


def node_select(kind: str) -> str:
    state = {"artifact": "v.state", "execution": "v.last_known_state", "context": "NULL"}[kind]
    uri = "v.uri" if kind == "artifact" else "NULL"
    return NODE_SELECT.format(state=state, uri=uri)


def node_rows(kind: str, rows: Sequence[tuple[Any, ...]], props: Iterable[tuple[Any, ...]]) -> list[NodeRow]:
    """Node versions from node rows and their property rows ``(id, valid_from, name, is_custom, *values)``."""
    out = []
    by_key: dict[tuple[int, int], NodeRow] = {}
    for node_id, type_id, _, name, external_id, state, uri, ctime, utime, sysmeta, valid_from in rows:
        row = NodeRow(kind, node_id, type_id, name, external_id, state, uri, ctime, utime, sysmeta, {}, {}, valid_from)
        out.append(row)
        by_key[(node_id, valid_from)] = row
    for node_id, valid_from, name, is_custom, *values in props:
        row = by_key.get((node_id, valid_from))
        if row is None:
            continue
        for column, value in zip(VALUE_COLUMNS, values, strict=True):
            if value is not None:
                (row.custom if is_custom else row.props)[name] = (column, value)
                break
    return out


def row_proto(row: NodeRow, type_name: str) -> Any:
    """The MLMD message for a node version (a fresh object the caller may change)."""
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
