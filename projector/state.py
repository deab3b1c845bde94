"""What the core may know about the projection before a batch, and the per-op transaction over it.

:class:`BatchState` holds keyed caches (nodes by id, names, external ids,
aliases, events, relations, parent edges, types). Each cache is filled in bulk
by a :class:`Lookups` implementation before the batch (prefetch) and, for
anything the prefetch did not foresee, one key at a time: correctness never
depends on the prefetch, speed does. :class:`OpTx` layers one op's writes over
the batch state so that a failing op leaves no trace (per-op atomicity).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mlmd_log.ids import FIRST_TYPE_ID, ID_BLOCK_SIZE, type_id_for
from mlmd_log.schemas.rows import NodeRow, TypeRow

KINDS = ("artifact", "execution", "context")
RELATION_TABLES = ("attribution", "association", "parent_context")


class Lookups(Protocol):
    """Bulk reads of the state as committed before the batch. Each returns only keys that exist."""

    def nodes(self, kind: str, ids: Collection[int]) -> dict[int, NodeRow]: ...

    def existing_ids(self, kind: str, low: int, high: int) -> set[int]: ...

    def names(self, kind: str, keys: Collection[tuple[int, str]]) -> dict[tuple[int, str], int]: ...

    def external_ids(self, kind: str, keys: Collection[str]) -> dict[str, int]: ...

    def events(self, keys: Collection[tuple[int, int, int]]) -> set[tuple[int, int, int]]: ...

    def relations(self, table: str, pairs: Collection[tuple[int, int]]) -> set[tuple[int, int]]: ...

    def parents(self, child_ids: Collection[int]) -> dict[int, tuple[int, ...]]: ...

    def types(self) -> dict[int, TypeRow]: ...

    def all_aliases(self) -> dict[str, dict[int, int]]: ...

    def high_water(self) -> dict[str, dict[int, int]]: ...


@dataclass
class Memo:
    """What the projector keeps in memory across batches, because it is small and only it changes it.

    ``aliases``: every id alias (reuse races are rare). ``high_water``: per node kind and lease block, the
    largest id stored; an assigned id above it cannot be in use, so most batches need no lookup to prove
    their new ids are free (ADR 0001).
    """

    aliases: dict[str, dict[int, int]]
    high_water: dict[str, dict[int, int]]

    def note(self, out: BatchOutput) -> None:
        """Fold a committed batch in."""
        for kind, rows in out.versions.items():
            if not rows:
                continue
            marks = self.high_water.setdefault(kind, {})
            # The largest id per lease block, in numpy: a Python loop cost ~0.5 us per row of every batch.
            ids = np.array([row.id for row in rows], dtype=np.int64)
            blocks = (ids - 1) // ID_BLOCK_SIZE
            order = np.argsort(blocks, kind="stable")
            ids, blocks = ids[order], blocks[order]
            starts = np.flatnonzero(np.concatenate(([True], blocks[1:] != blocks[:-1])))
            for block, top in zip(blocks[starts].tolist(), np.maximum.reduceat(ids, starts).tolist(), strict=True):
                if top > marks.get(block, 0):
                    marks[block] = top
        for kind, alias_id, canonical, _ in out.aliases:
            self.aliases.setdefault(kind, {})[alias_id] = canonical

    def maybe_used(self, kind: str, ids: set[int]) -> set[int]:
        """The ``ids`` at or below their lease block's high-water mark: only these can be in use."""
        marks = self.high_water.get(kind, {})
        if not ids or not marks:
            return set()
        # In numpy: a batch's new ids (thousands) mostly lie in a few lease blocks, all above their marks.
        found = np.fromiter(ids, dtype=np.int64, count=len(ids))
        blocks = (found - 1) // ID_BLOCK_SIZE
        tops = np.zeros(len(found), dtype=np.int64)
        for block in np.unique(blocks).tolist():
            mark = marks.get(block)
            if mark is not None:
                tops[blocks == block] = mark
        return set(found[found <= tops].tolist())


class Cache:
    """A keyed cache of the pre-batch state plus the batch's committed writes."""

    __slots__ = ("data", "loader")

    def __init__(self, loader: Callable[[list[Any]], dict[Any, Any]]) -> None:
        self.data: dict[Any, Any] = {}
        self.loader = loader

    def prefetch(self, keys: Iterable[Hashable]) -> None:
        missing = [k for k in set(keys) if k not in self.data]
        if not missing:
            return
        found = self.loader(missing)
        data = self.data
        for key in missing:
            data[key] = found.get(key)

    def get(self, key: Hashable) -> Any:
        try:
            return self.data[key]
        except KeyError:
            self.prefetch((key,))
            return self.data[key]


def _known_only(known: dict[int, int], keys: list[int]) -> dict[int, int]:
    """A loader over a map held wholly in memory: no query."""
    return {k: known[k] for k in keys if k in known}


def _set_loader(fetch: Callable[[list[Any]], set[Any]]) -> Callable[[list[Any]], dict[Any, Any]]:
    return lambda keys: dict.fromkeys(fetch(keys), True)


@dataclass
class BatchOutput:
    """Everything a batch adds to the projection, in the order it happened."""

    versions: dict[str, list[NodeRow]] = field(default_factory=lambda: {k: [] for k in KINDS})
    #: Stored node versions closed by this batch: kind -> [(id, valid_to)].
    closes: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: {k: [] for k in KINDS})
    type_versions: list[TypeRow] = field(default_factory=list)
    type_closes: list[tuple[int, int]] = field(default_factory=list)
    #: (artifact_id, execution_id, type, path, ms, system_metadata, position)
    events: list[tuple[int, int, int, bytes | None, int, bytes | None, int]] = field(default_factory=list)
    #: table -> [(first_id, second_id, position)]
    relations: dict[str, list[tuple[int, int, int]]] = field(
        default_factory=lambda: {t: [] for t in RELATION_TABLES}
    )
    #: (kind, alias_id, canonical_id, position)
    aliases: list[tuple[str, int, int, int]] = field(default_factory=list)

    def row_count(self) -> int:
        return (
            sum(len(v) for v in self.versions.values())
            + len(self.type_versions)
            + len(self.events)
            + sum(len(v) for v in self.relations.values())
        )


class BatchState:
    """The state one batch applies against: caches over :class:`Lookups` plus the batch output."""

    def __init__(self, lookups: Lookups, types: dict[int, TypeRow], memo: Memo) -> None:
        self.lookups = lookups
        self.types = types
        self.memo = memo
        self.caches: dict[str, Cache] = {}
        for kind in KINDS:
            self.caches[f"node:{kind}"] = Cache(functools.partial(lookups.nodes, kind))
            self.caches[f"name:{kind}"] = Cache(functools.partial(lookups.names, kind))
            self.caches[f"ext:{kind}"] = Cache(functools.partial(lookups.external_ids, kind))
            self.caches[f"alias:{kind}"] = Cache(functools.partial(_known_only, memo.aliases.get(kind, {})))
        self.caches["event"] = Cache(_set_loader(lookups.events))
        for table in RELATION_TABLES:
            self.caches[f"rel:{table}"] = Cache(_set_loader(functools.partial(lookups.relations, table)))
        self.caches["up"] = Cache(lookups.parents)
        # Nodes created in this batch: no stored event or relation can name them yet.
        self.caches["fresh"] = Cache(lambda keys: {})
        self.out = BatchOutput()
        #: Every cache entry the batch's ops set (cache name -> key -> value): what the batch changed.
        self.written: dict[str, dict[Any, Any]] = {}

    def preload(self, written: dict[str, dict[Any, Any]]) -> None:
        """Take an earlier batch's writes as known state (that batch may not be readable in the file yet).

        Its nodes count as fresh here too: the events and links that name them are all in ``written``.
        """
        for name, values in written.items():
            self.caches[name].data.update(values)

    def note(self, name: str, key: Hashable, value: Any) -> None:
        """Set ``key`` of cache ``name`` as a committed write of the batch."""
        self.caches[name].data[key] = value
        written = self.written.get(name)
        if written is None:
            written = self.written[name] = {}
        written[key] = value


#: Ids below this are never hashed ones worth checking (a 52-bit hash falls below it once in a million), so
#: :meth:`OpTx.next_type_id` hashes only the few types above it.
_HASHED_FLOOR = 1 << 32


class OpTx:
    """One op's view: reads fall through to the batch state; writes stay local until :meth:`commit`."""

    def __init__(self, state: BatchState, position: int) -> None:
        self.state = state
        self.position = position
        self.local: dict[str, dict[Any, Any]] = {}
        self.types: dict[int, TypeRow] = {}
        self.node_writes: list[tuple[NodeRow, NodeRow | None]] = []
        self.type_writes: list[tuple[TypeRow, TypeRow | None]] = []
        self.events: list[tuple[int, int, int, bytes | None, int, bytes | None, int]] = []
        self.relations: list[tuple[str, int, int]] = []
        self.aliases: list[tuple[str, int, int]] = []

    def get(self, cache: str, key: Hashable) -> Any:
        local = self.local.get(cache)
        if local is not None and key in local:
            return local[key]
        return self.state.caches[cache].get(key)

    def set(self, cache: str, key: Hashable, value: Any) -> None:
        self.local.setdefault(cache, {})[key] = value

    def type(self, type_id: int) -> TypeRow | None:
        found = self.types.get(type_id)
        return found if found is not None else self.state.types.get(type_id)

    def type_by_key(self, kind: str, name: str, version: str | None) -> TypeRow | None:
        """The current type (kind, name, version), or None (types are few: a scan)."""
        for row in self.types.values():
            if row.kind == kind and row.name == name and row.version == version:
                return row
        for row in self.state.types.values():
            if row.kind == kind and row.name == name and row.version == version and row.id not in self.types:
                return row
        return None

    def next_type_id(self) -> int:
        """The id a new type takes: one above every id in use, so ids follow creation order (ADR 0001).

        Ids that a log once derived by hashing (before ids followed log order) are skipped, so such a log
        keeps numbering its new types densely.
        """
        used = [
            type_id for type_id, row in (*self.state.types.items(), *self.types.items())
            if type_id < _HASHED_FLOOR or type_id != type_id_for(row.kind, row.name, row.version)  # type: ignore[arg-type]
        ]
        return max(FIRST_TYPE_ID, max(used, default=0) + 1)

    def commit(self) -> None:
        state, out, pos = self.state, self.state.out, self.position
        written = state.written
        for name, values in self.local.items():
            state.caches[name].data.update(values)
            if name in written:
                written[name].update(values)
            else:
                written[name] = dict(values)
        for new, prev in self.node_writes:
            if prev is not None:
                if prev.in_db:
                    out.closes[new.kind].append((prev.id, pos))
                else:
                    prev.valid_to = pos
            out.versions[new.kind].append(new)
        for new_type, prev_type in self.type_writes:
            if prev_type is not None:
                if prev_type.in_db:
                    out.type_closes.append((prev_type.id, pos))
                else:
                    prev_type.valid_to = pos
            out.type_versions.append(new_type)
        state.types.update(self.types)
        out.events.extend(self.events)
        for table, a, b in self.relations:
            out.relations[table].append((a, b, pos))
        out.aliases.extend((kind, alias, canonical, pos) for kind, alias, canonical in self.aliases)
