"""Progress of a long copy on stderr: rows done, rows per second and the time left, once a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts rows against a known total and reports at most once a second (and once at the end)."""

    def __init__(self, total: int, verb: str, out: TextIO | None = None, every_s: float = 1.0) -> None:
        self.total = max(total, 0)
        self.done = 0
        self.verb = verb
        self._out = out if out is not None else sys.stderr
        self._every = every_s
        self._start = time.monotonic()
        self._last = self._start

    def rate(self) -> float:
        return self.done / max(time.monotonic() - self._start, 1e-6)

    def add(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._report(final=False)

    def finish(self) -> None:
        self._report(final=True)

    def _report(self, *, final: bool) -> None:
        rate = self.rate()
        if final:
            line = f"{self.verb} {self.done:,} rows in {time.monotonic() - self._start:.1f} s ({rate:,.0f} rows/s)"
        else:
            left = max(self.total - self.done, 0) / rate if rate > 0 else float("inf")
            eta = f"{left:,.0f} s" if left != float("inf") else "unknown"
            line = f"{self.verb} {self.done:,}/{self.total:,} rows ({rate:,.0f} rows/s, {eta} left)"
        print(line, file=self._out, flush=True)
