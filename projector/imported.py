"""Ops written by ``mlmd-log import``: MLMD rows kept with their source's ids and times.

An imported op is an ordinary put payload marked ``imported`` (``ops.proto``). It goes through MLMD's same
rules as any put (types, property checks, uniqueness, events, links), with three differences: new nodes
take the ids in ``assigned_ids`` and keep the ``create_time_since_epoch`` and
``last_update_time_since_epoch`` their messages carry, and types take the ids in
``assigned_ids.type_ids`` instead of deriving them. Like every op it applies wholly or not at all.
"""

from __future__ import annotations

from typing import Any

from mlmd_log.errors import InvalidArgumentError, StatusError
from mlmd_log.ids import TypeKind
from mlmd_log.projector.apply import (
    put_attributions_and_associations,
    put_event,
    put_parent_context,
    put_type,
)
from mlmd_log.projector.nodes import insert_many
from mlmd_log.projector.state import BatchState, OpTx
from mlmd_log.schemas.v1 import ops_pb2

_TYPE_LISTS: tuple[tuple[TypeKind, str], ...] = (
    ("artifact", "artifact_types"), ("execution", "execution_types"), ("context", "context_types"),
)


def _put_types(tx: OpTx, req: Any, type_ids: list[int]) -> None:
    given = iter(type_ids)
    for kind, field in _TYPE_LISTS:
        for msg in getattr(req, field):
            type_id = next(given, None)
            if type_id is None:
                raise InvalidArgumentError("malformed import op: fewer type ids than types")
            put_type(tx, kind, msg, True, True, explicit=type_id)


def _put_nodes(tx: OpTx, kind: str, msgs: Any, ids: list[int]) -> None:
    if len(ids) != len(msgs):
        raise InvalidArgumentError(f"malformed import op: {len(msgs)} {kind}s but {len(ids)} ids")
    for msg in msgs:
        if msg.HasField("id"):
            raise InvalidArgumentError(f"malformed import op: a {kind} carries its id in the message")
    insert_many(tx, kind, list(zip(msgs, ids, strict=True)), 0, keep_times=True)


def apply_imported(tx: OpTx, op: ops_pb2.Operation) -> None:
    """Apply one imported op to ``tx``; raises the MLMD error that rejects it."""
    payload = op.WhichOneof("payload")
    assigned = op.assigned_ids
    if payload == "put_types":
        _put_types(tx, op.put_types, list(assigned.type_ids))
    elif payload in ("put_artifacts", "put_executions", "put_contexts"):
        kind = payload[4:-1]
        _put_nodes(tx, kind, getattr(getattr(op, payload), f"{kind}s"), list(getattr(assigned, f"{kind}_ids")))
    elif payload == "put_events":
        for event in op.put_events.events:
            if not event.HasField("milliseconds_since_epoch"):
                raise InvalidArgumentError("malformed import op: an event without its time")
            put_event(tx, event, event.milliseconds_since_epoch)
    elif payload == "put_attributions_and_associations":
        put_attributions_and_associations(tx, op.put_attributions_and_associations)
    elif payload == "put_parent_contexts":
        for edge in op.put_parent_contexts.parent_contexts:
            put_parent_context(tx, edge)
    else:
        raise InvalidArgumentError(f"import op {op.op_id!r} has a payload an import never writes ({payload!r})")


def apply_imported_in_tx(state: BatchState, position: int, op: ops_pb2.Operation) -> StatusError | None:
    """:func:`apply_imported` atomically at ``position``: commit its rows, or return the error and keep nothing."""
    tx = OpTx(state, position)
    try:
        apply_imported(tx, op)
    except StatusError as err:
        return err
    tx.commit()
    return None
