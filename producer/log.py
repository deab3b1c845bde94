"""The contract between the write API and a log: append an op, lease ids, flush, close.

Two implementations: the Kafka log (:mod:`mlmd_log.producer.kafka_log`) and the
embedded log inside a DuckDB file (:mod:`mlmd_log.embedded`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Receipt(Protocol):
    """An appended op: its id, and its log position once the log has acknowledged it."""

    op_id: str

    def position(self, timeout: float | None = None) -> int:
        """Block until acknowledged; the op's log position. Raises the delivery error otherwise."""
        ...


class OpLog(Protocol):
    """Where a producer appends its ops."""

    def append(self, op_id: str, data: bytes, *, wait: bool = False) -> Receipt:
        """Append ``data`` (an encoded op whose id is ``op_id``). Embedded logs apply it at once and raise
        its rejection."""
        ...

    def lease(self, op_id: str, data: bytes) -> int:
        """Append a lease op and return its acknowledged log position."""
        ...

    def type_ids(self, keys: Sequence[tuple[str, str, str | None]]) -> list[int]:
        """Ids of the types ``(kind, name, version)``, once an op registering them was appended with
        ``wait=True`` and applied: the projector decides type ids in log order (ADR 0001)."""
        ...

    def sync(self, timeout: float | None = None) -> None:
        """Block until every op appended so far is acknowledged (and projected, where this log has a projection);
        raise the MLMD error of the first rejected one."""
        ...

    def close(self, timeout: float | None = None) -> None: ...
