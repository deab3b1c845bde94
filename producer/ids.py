"""Hands out node ids from leased blocks (ADR 0001), leasing a new block when one runs out."""

from __future__ import annotations

import threading
from collections.abc import Callable

from mlmd_log.ids import lease_block


class IdAllocator:
    """Ids for new artifacts, executions and contexts, unique across every producer of the log.

    ``lease`` appends a lease op and returns its log position; the block it owns
    follows from that position alone.
    """

    def __init__(self, lease: Callable[[], int]) -> None:
        self._lease = lease
        self._next = 0
        self._last = -1
        self._lock = threading.Lock()

    def take(self, count: int) -> list[int]:
        """``count`` fresh ids in increasing order (possibly spanning two blocks)."""
        with self._lock:
            if self._last - self._next + 1 >= count:  # the common case: the current block has room
                first = self._next
                self._next += count
                return list(range(first, first + count))
        out: list[int] = []
        with self._lock:
            while len(out) < count:
                if self._next > self._last:
                    self._next, self._last = lease_block(self._lease())
                n = min(count - len(out), self._last - self._next + 1)
                out.extend(range(self._next, self._next + n))
                self._next += n
        return out
