"""Decode and upcast: log bytes -> the current ``Operation`` shape, or the reason it cannot be.

Upcasting is a chain of small ``upcast_vN_vN+1`` functions keyed by the op's
``schema_version``; an op from a newer producer than this projector knows is
rejected (not guessed at), and so are undecodable bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from mlmd_log.errors import DataLossError, FailedPreconditionError, InvalidArgumentError, StatusError
from mlmd_log.schemas.v1 import ops_pb2

#: The envelope version this code writes and understands.
OP_SCHEMA_VERSION: Final = 1

#: from-version -> function that returns the op at from-version + 1. Empty while there is one version.
UPCASTERS: dict[int, Callable[[ops_pb2.Operation], ops_pb2.Operation]] = {}


def decode(value: bytes, *, strict: bool = False) -> ops_pb2.Operation | StatusError:
    """The op in ``value`` upcast to :data:`OP_SCHEMA_VERSION`, or the error that rejects it.

    Only ``op_id`` (a key of the projector's own sets and hashes) is checked for UTF-8 unless ``strict``,
    which checks every other string field too, the producer identity included (a walk of the whole
    message: the projector runs it only on a batch that failed where such a field met text, see
    :meth:`~mlmd_log.projector.engine.Projector.prepare`).
    """
    try:
        op = ops_pb2.Operation.FromString(value)
    except (DecodeError, RuntimeError, ValueError) as err:
        return DataLossError(f"undecodable op ({len(value)} bytes): {err}")
    if not isinstance(op.op_id, str):
        return DataLossError(f"undecodable op ({len(value)} bytes): op_id is not valid UTF-8")
    bad = first_non_text(op) if strict else None
    if bad is not None:
        return DataLossError(f"undecodable op ({len(value)} bytes): {bad} is not valid UTF-8")
    version = op.schema_version if op.HasField("schema_version") else OP_SCHEMA_VERSION
    if version > OP_SCHEMA_VERSION:
        return FailedPreconditionError(
            f"op {op.op_id!r} has schema version {version}; this projector understands up to "
            f"{OP_SCHEMA_VERSION}: upgrade mlmd-log and replay"
        )
    while version < OP_SCHEMA_VERSION:
        upcast = UPCASTERS.get(version)
        if upcast is None:
            return FailedPreconditionError(f"op {op.op_id!r} has unknown schema version {version}")
        op = upcast(op)
        version += 1
    if op.WhichOneof("payload") is None:
        return InvalidArgumentError(f"op {op.op_id!r} has no payload (an unknown op kind from a newer producer?)")
    return op


def first_non_text(msg: Message, prefix: str = "") -> str | None:
    """The path of the first string field (or string map key) anywhere in ``msg`` that holds non-UTF-8 bytes.

    proto2 ``string`` fields (all of MLMD's messages) are not validated by the parser: such a field comes
    out as ``bytes`` and would fail only where it meets text (an Arrow string column, a ``str.join``).
    """
    for field, value in msg.ListFields():
        path = prefix + field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            for key in value:
                if key_field.type == FieldDescriptor.TYPE_STRING and not isinstance(key, str):
                    return f"{path} key"
                item = value[key]
                if value_field.type == FieldDescriptor.TYPE_STRING and not isinstance(item, str):
                    return f"{path}[{key!r}]"
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    bad = first_non_text(item, f"{path}[{key!r}].")
                    if bad is not None:
                        return bad
            continue
        items = value if field.is_repeated else (value,)
        for i, item in enumerate(items):
            where = f"{path}[{i}]" if field.is_repeated else path
            if field.type == FieldDescriptor.TYPE_STRING and not isinstance(item, str):
                return where
            if field.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP):
                bad = first_non_text(item, where + ".")
                if bad is not None:
                    return bad
    return None
