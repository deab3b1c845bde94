"""Checks on write requests that need no state: input MLMD itself refuses, whatever the store holds.

Producers run them before appending, so nothing they can know to be invalid
reaches the log; the projector runs them again, since the log may hold ops from
any client. Each raises MLMD's error class and message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mlmd_log.errors import InvalidArgumentError, OutOfRangeError
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd


def check_type(msg: Any) -> None:
    if not msg.name:
        raise InvalidArgumentError("No type name is specified.")
    for prop, data_type in msg.properties.items():
        if data_type == mlmd.UNKNOWN:
            raise InvalidArgumentError(f"Property {prop} is UNKNOWN.")


def check_new_nodes(kind: str, msgs: Iterable[Any]) -> None:
    for msg in msgs:
        if msg.HasField("id"):
            continue
        if not msg.HasField("type_id"):
            raise InvalidArgumentError("Type id is missing.")
        if kind == "context" and not msg.name:
            raise InvalidArgumentError(
                f"Cannot create node for type_id: {msg.type_id}Context name should not be empty"
            )


def check_event(event: Any, *, needs_artifact: bool = True, needs_execution: bool = True) -> None:
    if not event.HasField("type") or event.type == mlmd.Event.UNKNOWN:
        raise InvalidArgumentError("No event type is specified.")
    if needs_artifact and not event.HasField("artifact_id"):
        raise InvalidArgumentError("No artifact id is specified.")
    if needs_execution and not event.HasField("execution_id"):
        raise InvalidArgumentError("No execution id is specified.")


def check_edges(edges: Sequence[Any], n_executions: int, n_artifacts: int) -> None:
    for edge in edges:
        if not 0 <= edge.execution_index < n_executions:
            raise OutOfRangeError(
                f"The event_edge has an execution_index {edge.execution_index} that is outside the bounds of "
                f"the request's executions list, [0, {n_executions})."
            )
        if not 0 <= edge.artifact_index < n_artifacts:
            raise OutOfRangeError(
                f"The event_edge has an artifact_index {edge.artifact_index} that is outside the bounds of "
                f"the request's artifacts list, [0, {n_artifacts})."
            )
        check_event(edge.event, needs_artifact=False, needs_execution=False)
