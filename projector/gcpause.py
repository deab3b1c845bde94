"""Holding Python's cyclic garbage collector off while a batch is projected.

A batch allocates tens of thousands of objects (rows, property dicts, tuples,
outcomes) that all live until it ends. With the collector on, they trigger
collection after collection, each walking them again and the full ones the
whole heap (about 15% of a replay's CPU time). Projecting makes no
reference cycles worth collecting early, and reference counting frees
everything as usual, so the collector is held off for the batch and restored
after. Callers that consume the batch's report (the loop's listeners, a
replay) hold it off until the report is dropped too: the collector then finds
only the few objects that outlive the batch.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block; re-enable it after only if it was enabled (nesting is safe)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
