"""Protobuf's base-128 varint, for code that splices encoded messages and Kafka records by hand."""

from __future__ import annotations


def varint(value: int) -> bytes:
    """The varint of a non-negative int (lengths, ids, field tags): 7 bits per byte, least significant first."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
