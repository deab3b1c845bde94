"""Store messages as the UI's JSON: nodes, property values, events, versions.

Property values become plain JSON values (int, float, str, bool, or a dict for
struct and proto values), enums their names, so the browser never decodes
protobuf.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

#: Node kinds the UI shows, with the id prefix the graph uses (ids are unique across kinds).
KINDS = ("artifact", "execution", "context")


def value_of(value: mlmd.Value) -> Any:
    """A property ``Value`` as a plain JSON value (None when unset)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which in ("struct_value", "proto_value"):
        return json_format.MessageToDict(getattr(value, which))
    return getattr(value, which)


def kind_of(node: Any) -> str:
    """'artifact', 'execution' or 'context' for a node message."""
    if isinstance(node, mlmd.Artifact):
        return "artifact"
    if isinstance(node, mlmd.Execution):
        return "execution"
    return "context"


def state_of(node: Any) -> str | None:
    """An artifact's state or an execution's last known state, by name (None when unset or a context)."""
    if isinstance(node, mlmd.Artifact) and node.HasField("state"):
        return str(mlmd.Artifact.State.Name(node.state))
    if isinstance(node, mlmd.Execution) and node.HasField("last_known_state"):
        return str(mlmd.Execution.State.Name(node.last_known_state))
    return None


def label_of(node: Any) -> str:
    """A short human label: the name when set, else the type and id."""
    return str(node.name) if node.name else f"{node.type} {node.id}"


def node_summary(node: Any) -> dict[str, Any]:
    """The fields a list or a graph shows for a node."""
    summary: dict[str, Any] = {
        "id": node.id, "kind": kind_of(node), "type": node.type, "name": node.name or None,
        "label": label_of(node), "state": state_of(node),
    }
    if isinstance(node, mlmd.Artifact):
        summary["uri"] = node.uri or None
    return summary


def node_detail(node: Any) -> dict[str, Any]:
    """Every field of a node: summary, external id, times, properties and custom properties."""
    detail = node_summary(node)
    detail.update({
        "type_id": node.type_id,
        "external_id": node.external_id or None,
        "create_time_ms": node.create_time_since_epoch or None,
        "update_time_ms": node.last_update_time_since_epoch or None,
        "properties": {k: value_of(v) for k, v in sorted(node.properties.items())},
        "custom_properties": {k: value_of(v) for k, v in sorted(node.custom_properties.items())},
    })
    return detail


def event_detail(event: mlmd.Event) -> dict[str, Any]:
    """An event: its two ends, type by name, path steps and time."""
    steps = [s.index if s.WhichOneof("value") == "index" else s.key for s in event.path.steps]
    return {
        "artifact_id": event.artifact_id, "execution_id": event.execution_id,
        "type": str(mlmd.Event.Type.Name(event.type)), "path": steps,
        "time_ms": event.milliseconds_since_epoch or None,
    }


#: Event types whose artifact an execution produced (the rest it read).
OUTPUT_EVENT_TYPES = frozenset(
    {mlmd.Event.OUTPUT, mlmd.Event.DECLARED_OUTPUT, mlmd.Event.INTERNAL_OUTPUT, mlmd.Event.PENDING_OUTPUT}
)


def edge_of(event: mlmd.Event) -> dict[str, Any]:
    """An event as a graph edge in the direction data flows: input artifact -> execution -> output artifact."""
    kind = str(mlmd.Event.Type.Name(event.type))
    if event.type in OUTPUT_EVENT_TYPES:
        return {"source": event.execution_id, "target": event.artifact_id, "type": kind}
    return {"source": event.artifact_id, "target": event.execution_id, "type": kind}
