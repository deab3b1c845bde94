"""A cache of current node versions for point gets, kept coherent by the projector that owns the database.

The projector's owner writes every committed current version through
(:meth:`NodeCache.commit`), so recently written nodes are served without a
query; reads fill in the rest. A read that raced with a commit does not fill:
entries are stored only if no commit happened between the read's start and its
end (a generation counter), so the cache never holds a version older than the
database's. Entries are the projector's immutable :class:`NodeRow` objects;
callers get fresh protos built from them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from mlmd_log.schemas.rows import NodeRow


class NodeCache:
    """LRU map (kind, id) -> current :class:`NodeRow`."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.generation = 0
        #: Moves when a commit creates id aliases: readers reload their alias maps then.
        self.alias_generation = 0
        #: Moves when a commit registers or changes types: readers reload their type tables then.
        self.type_generation = 0
        self._data: OrderedDict[tuple[str, int], NodeRow] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, kind: str, node_id: int) -> NodeRow | None:
        return self._data.get((kind, node_id))

    def fill(self, rows: Iterable[NodeRow], generation: int) -> None:
        """Store ``rows`` read from the database when no commit has happened since ``generation``."""
        with self._lock:
            if generation == self.generation:
                self._store(rows)

    def commit(
        self, current: Mapping[str, Iterable[NodeRow]], stale: Mapping[str, Iterable[int]], aliases: bool = False,
        types: bool = False,
    ) -> None:
        """Apply a projector commit: forget ``stale`` ids, then store the new ``current`` versions."""
        with self._lock:
            self.generation += 1
            self.alias_generation += aliases
            self.type_generation += types
            for kind, ids in stale.items():
                for node_id in ids:
                    self._data.pop((kind, node_id), None)
            for rows in current.values():
                self._store(rows)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._data.clear()

    def _store(self, rows: Iterable[NodeRow]) -> None:
        if self.capacity <= 0:
            return
        data = self._data
        for row in rows:
            key = (row.kind, row.id)
            data[key] = row
            data.move_to_end(key)
        while len(data) > self.capacity:
            data.popitem(last=False)
