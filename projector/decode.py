"""Decode and upcast: log bytes -> the current ``Operation`` shape, or the reason it cannot be.

Upcasting is a chain of small ``upcast_vN_vN+1`` functions keyed by the op's
``schema_version``; an op from a newer producer than this projector knows is
rejected (not guessed at), and so are undecodable bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from google.protobuf.message import DecodeError

from mlmd_log.errors import DataLossError, FailedPreconditionError, InvalidArgumentError, StatusError
from mlmd_log.schemas.v1 import ops_pb2

#: The envelope version this code writes and understands.
OP_SCHEMA_VERSION: Final = 1

#: from-version -> function that returns the op at from-version + 1. Empty while there is one version.
UPCASTERS: dict[int, Callable[[ops_pb2.Operation], ops_pb2.Operation]] = {}


def decode(value: bytes) -> ops_pb2.Operation | StatusError:
    """The op in ``value`` upcast to :data:`OP_SCHEMA_VERSION`, or the error that rejects it."""
    try:
        op = ops_pb2.Operation.FromString(value)
    except (DecodeError, RuntimeError, ValueError) as err:
        return DataLossError(f"undecodable op ({len(value)} bytes): {err}")
    bad = _not_text(op)
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


#: The envelope's text fields, which the archive stores as text. (``string`` fields of a proto2 message that hold
#: invalid UTF-8 come out of the parser as ``bytes``.)
_PRODUCER_TEXT: Final = ("team", "service", "host", "user", "client_version", "session_id")


def _not_text(op: ops_pb2.Operation) -> str | None:
    """The first envelope field that holds bytes that are not UTF-8 text, if any."""
    if not isinstance(op.op_id, str):
        return "op_id"
    producer = op.producer
    for name in _PRODUCER_TEXT:
        if not isinstance(getattr(producer, name), str):
            return f"producer.{name}"
    return None
