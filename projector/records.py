"""One record read from the log, as the projector core sees it.

A plain immutable value with no driver types, so the projector core can take
batches from either log (a Kafka topic or the embedded ``ops`` table) without
importing ``kafka``. A named tuple rather than a frozen dataclass: one is made
per record read, and a frozen dataclass costs ~1 us to build (its ``__init__``
sets each field through ``object.__setattr__``), a tuple ~0.2 us. The record time is the log's (the broker record timestamp,
or the embedded log's append time): the projector stores it and reads no clock.
"""

from __future__ import annotations

from typing import NamedTuple


class LogRecord(NamedTuple):
    """The record at ``offset`` (its log position): time in epoch ms, key, encoded op bytes.

    ``value`` is the raw op; a record with no value (a Kafka tombstone) arrives
    as ``b""`` so the decoder rejects it like any other undecodable op.
    """

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
