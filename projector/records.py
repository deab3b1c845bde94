"""A record read from the log, free of any Kafka client type, so the projector core can import it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One op as the log holds it: its position (offset), record time, key and encoded bytes."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
