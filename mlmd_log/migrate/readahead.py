"""Read the source ahead in a thread while the log takes the previous ops.

Reading the source (driver calls, building MLMD messages) and appending (projecting) each cost about half
of an import; the driver and DuckDB release the GIL for their work, so the two overlap. The queue is short,
so memory stays at a few ops; a failure in the reader is raised in the consumer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order, produced by a background thread at most ``depth`` ahead of the consumer."""
    pending: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                pending.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as err:
            put(_Failed(err))

    thread = threading.Thread(target=run, name="mlmd-log-import-reader", daemon=True)
    thread.start()
    try:
        while True:
            value = pending.get()
            if value is _END:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value  # type: ignore[misc]  # anything else is an item
    finally:
        stop.set()
        thread.join()
