"""Decoding and upcasting: old ops are upcast through the chain, future and broken ones are rejected."""

from __future__ import annotations

import pytest

from mlmd_log import errors
from mlmd_log.projector import decode as decoding
from mlmd_log.schemas.v1 import ops_pb2


def _op(version: int | None) -> bytes:
    op = ops_pb2.Operation(op_id="x")
    if version is not None:
        op.schema_version = version
    op.put_artifact_type.artifact_type.name = "T"
    return op.SerializeToString()


def test_current_and_unversioned_ops_decode() -> None:
    for version in (None, decoding.OP_SCHEMA_VERSION):
        op = decoding.decode(_op(version))
        assert isinstance(op, ops_pb2.Operation) and op.put_artifact_type.artifact_type.name == "T"


def test_an_older_op_goes_through_its_upcaster(monkeypatch: pytest.MonkeyPatch) -> None:
    def upcast_v0_v1(op: ops_pb2.Operation) -> ops_pb2.Operation:
        out = ops_pb2.Operation()
        out.CopyFrom(op)
        out.put_artifact_type.artifact_type.name = op.put_artifact_type.artifact_type.name + "_v1"
        out.schema_version = 1
        return out

    monkeypatch.setitem(decoding.UPCASTERS, 0, upcast_v0_v1)
    op = decoding.decode(_op(0))
    assert isinstance(op, ops_pb2.Operation) and op.put_artifact_type.artifact_type.name == "T_v1"


def test_an_older_op_without_upcaster_and_a_future_op_are_rejected() -> None:
    old = decoding.decode(_op(0))
    assert isinstance(old, errors.FailedPreconditionError) and "unknown schema version 0" in old.message
    future = decoding.decode(_op(decoding.OP_SCHEMA_VERSION + 1))
    assert isinstance(future, errors.FailedPreconditionError) and "upgrade mlmd-log" in future.message


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a\x05ab", b"", b"\x5a\x02\x08"])
def test_garbage_and_payloadless_bytes_are_rejected_not_raised(data: bytes) -> None:
    result = decoding.decode(data)
    assert isinstance(result, errors.DataLossError | errors.InvalidArgumentError)


@pytest.mark.parametrize("field", ["op_id", "producer.team", "producer.session_id"])
def test_an_envelope_text_field_that_is_not_utf8_is_rejected(field: str) -> None:
    op = ops_pb2.Operation(op_id="x")
    op.put_artifact_type.artifact_type.name = "T"
    if field == "op_id":
        op.op_id = "MARK"
    else:
        setattr(op.producer, field.split(".")[1], "MARK")
    data = op.SerializeToString().replace(b"MARK", b"\xff\xfeok")  # a proto2 string that is not UTF-8
    got = decoding.decode(data, strict=True)
    assert isinstance(got, errors.DataLossError)
    assert got.message.endswith(f"{field} is not valid UTF-8")
    # Without strict only op_id is checked: the projector decodes strictly a batch that failed on such text.
    assert isinstance(decoding.decode(data), errors.DataLossError) == (field == "op_id")
