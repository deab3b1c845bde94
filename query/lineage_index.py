"""An in-memory index of the append-only link tables, so a lineage query reads only what it reaches.

Why: in SQL, a lineage walk reads the whole event table whatever the hop count
(6 hops cost as much as 20), and fetching the events and contexts of ~1,000
scattered nodes is a hash join over whole tables (~3-5 ms per statement here,
growing with the tables). Events, attributions and associations are
append-only (the projector only inserts them; nothing closes or rewrites one),
so the links valid at a log position P are exactly the rows with
``valid_from <= P``. An index refreshed incrementally (rows with ``valid_from``
after the last position loaded) is therefore exact for the present and for
every past position: a lookup at P ignores links added after P.

Layout: each link direction (artifact -> execution, execution -> artifact,
artifact -> context, execution -> context) is an :class:`Edges`: numpy columns
sorted by the source id (a binary search per frontier id, vectorized) plus a
small unsorted tail that is merged in once it grows past a fraction of the
sorted part (amortized O(log n) per link). About 60 bytes per event. Above
``max_links`` the index declines and callers use SQL instead.

The serialized events of an execution are cached too (bounded, oldest out first),
built from the database on first use and dropped when a refresh loads a new
event of that execution, so a cached entry is complete up to the index's
position.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import duckdb
import numpy as np
import numpy.typing as npt

from mlmd_log.query.convert import event_proto
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.wire import varint

IdArray = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

#: Event types that make the artifact an output of the execution (the rest are inputs).
OUTPUT_TYPES: Final = (
    mlmd.Event.OUTPUT, mlmd.Event.DECLARED_OUTPUT, mlmd.Event.INTERNAL_OUTPUT, mlmd.Event.PENDING_OUTPUT,
)
#: The unsorted tail is merged once it holds this fraction of the sorted part (or the minimum below).
_MERGE_FRACTION: Final = 0.125
_MERGE_MIN: Final = 4096
_NO_IDS: Final = np.zeros(0, np.int64)
_NO_FLAGS: Final = np.zeros(0, np.bool_)
#: One framed event: LineageGraph.events is field 7 (length-delimited).
_EVENTS_TAG: Final = bytes([(7 << 3) | 2])

#: An event ready to splice into a LineageGraph: (sort key, artifact id, framed bytes).
EventBytes = tuple[tuple[int, int, int, int], int, bytes]


@dataclass(frozen=True, slots=True)
class Edges:
    """Links keyed by one endpoint: a part sorted by ``keys`` and an unsorted tail, each with the other
    endpoint, a flag (events: the artifact is an output) and the position the link appeared at."""

    keys: IdArray
    other: IdArray
    flag: Flags
    valid_from: IdArray
    tail: tuple[IdArray, IdArray, Flags, IdArray]

    @staticmethod
    def empty() -> Edges:
        return Edges(_NO_IDS, _NO_IDS, _NO_FLAGS, _NO_IDS, (_NO_IDS, _NO_IDS, _NO_FLAGS, _NO_IDS))

    @property
    def size(self) -> int:
        return len(self.keys) + len(self.tail[0])

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.keys, self.other, self.flag, self.valid_from, *self.tail))

    def extend(self, keys: IdArray, other: IdArray, flag: Flags, valid_from: IdArray) -> Edges:
        """These links plus the given ones (a new object; this one is shared by readers)."""
        if not len(keys):
            return self
        tail = tuple(np.concatenate(pair) for pair in zip(self.tail, (keys, other, flag, valid_from), strict=True))
        if len(tail[0]) < max(_MERGE_MIN, _MERGE_FRACTION * len(self.keys)):
            return Edges(self.keys, self.other, self.flag, self.valid_from, tail)  # type: ignore[arg-type]
        all_keys, all_other, all_flag, all_from = (
            np.concatenate(pair) for pair in zip((self.keys, self.other, self.flag, self.valid_from), tail, strict=True)
        )
        order = np.argsort(all_keys, kind="stable")
        return Edges(
            all_keys[order], all_other[order], all_flag[order], all_from[order],
            (_NO_IDS, _NO_IDS, _NO_FLAGS, _NO_IDS),
        )

    def lookup(self, sources: IdArray, position: int, flag: bool | None = None) -> IdArray:
        """Other endpoints of the links from ``sources`` valid at ``position`` (and with ``flag``, when given);
        unsorted, may repeat."""
        lo = np.searchsorted(self.keys, sources, "left")
        hi = np.searchsorted(self.keys, sources, "right")
        counts = hi - lo
        total = int(counts.sum())
        found = _NO_IDS
        if total:
            # The rows of every range [lo, hi), concatenated without a Python loop.
            rows = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) + np.arange(total)
            keep = self.valid_from[rows] <= position
            if flag is not None:
                keep &= self.flag[rows] == flag
            found = self.other[rows[keep]]
        keys, other, flags, valid_from = self.tail
        if len(keys):
            keep = np.isin(keys, sources) & (valid_from <= position)
            if flag is not None:
                keep &= flags == flag
            found = np.concatenate((found, other[keep]))
        return found


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One immutable state of the index, holding every link with ``valid_from <= position``."""

    position: int
    artifact_executions: Edges  # events by artifact; flag: the artifact is the execution's output
    execution_artifacts: Edges  # events by execution
    artifact_contexts: Edges  # attributions
    execution_contexts: Edges  # associations

    @property
    def size(self) -> int:
        return self.artifact_executions.size + self.artifact_contexts.size + self.execution_contexts.size

    @property
    def nbytes(self) -> int:
        """Memory held by the link arrays (the cached event bytes come on top)."""
        return sum(e.nbytes for e in (
            self.artifact_executions, self.execution_artifacts, self.artifact_contexts, self.execution_contexts
        ))


def _empty(position: int = -2) -> Snapshot:
    return Snapshot(position, Edges.empty(), Edges.empty(), Edges.empty(), Edges.empty())


#: New links after one position up to another: kind 0 = event, 1 = attribution, 2 = association.
_NEW_LINKS: Final = """
SELECT 0 AS kind, artifact_id AS src, execution_id AS dst, type IN (SELECT unnest(?::INTEGER[])) AS flag, valid_from
FROM event_versions WHERE valid_from > ? AND valid_from <= ?
UNION ALL
SELECT 1, artifact_id, context_id, FALSE, valid_from FROM attribution_versions WHERE valid_from > ? AND valid_from <= ?
UNION ALL
SELECT 2, execution_id, context_id, FALSE, valid_from FROM association_versions WHERE valid_from > ? AND valid_from <= ?
"""


class LineageIndex:
    """Lineage links in memory, refreshed from the link tables by log position; safe to share across threads."""

    def __init__(self, max_links: int = 20_000_000, event_cache_executions: int = 100_000) -> None:
        self.max_links = max_links
        self.event_cache_executions = event_cache_executions
        self._lock = threading.Lock()
        self._snapshot = _empty()
        self._declined = False
        self._events: OrderedDict[int, list[EventBytes]] = OrderedDict()

    def at(self, con: duckdb.DuckDBPyConnection, position: int) -> Snapshot | None:
        """The index holding every link valid at ``position`` (a position the database has committed), or
        None when the link tables are larger than ``max_links`` (callers use SQL then)."""
        snap = self._snapshot
        if snap.position >= position:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap.position >= position:
                return snap
            if self._declined:
                return None
            loaded = self._load(con, snap, position)
            if loaded is None:
                self._declined = True
                self._events.clear()
                return None
            self._snapshot = loaded
            return loaded

    def clear(self) -> None:
        """Forget everything (the projection behind it was rebuilt)."""
        with self._lock:
            self._snapshot = _empty()
            self._declined = False
            self._events.clear()

    def _load(self, con: duckdb.DuckDBPyConnection, snap: Snapshot, position: int) -> Snapshot | None:
        cursor = con.cursor()
        try:
            if snap.position < -1:  # first load: decline before reading a table too large to hold
                (count,) = cursor.execute(
                    "SELECT (SELECT count(*) FROM event_versions) + (SELECT count(*) FROM attribution_versions) "
                    "+ (SELECT count(*) FROM association_versions)"
                ).fetchone() or (0,)
                if count > self.max_links:
                    return None
            bounds = [snap.position, position]
            cols = cursor.execute(_NEW_LINKS, [list(OUTPUT_TYPES), *bounds, *bounds, *bounds]).fetchnumpy()
        finally:
            cursor.close()
        kind = np.asarray(cols["kind"], np.int32)
        if snap.size + len(kind) > self.max_links:
            return None
        src = np.asarray(cols["src"], np.int64)
        dst = np.asarray(cols["dst"], np.int64)
        flag = np.asarray(cols["flag"], np.bool_)
        valid_from = np.asarray(cols["valid_from"], np.int64)
        ev, attr, assoc = kind == 0, kind == 1, kind == 2
        for execution_id in np.unique(dst[ev]).tolist():  # their cached events are incomplete now
            self._events.pop(execution_id, None)
        return Snapshot(
            position,
            snap.artifact_executions.extend(src[ev], dst[ev], flag[ev], valid_from[ev]),
            snap.execution_artifacts.extend(dst[ev], src[ev], flag[ev], valid_from[ev]),
            snap.artifact_contexts.extend(src[attr], dst[attr], flag[attr], valid_from[attr]),
            snap.execution_contexts.extend(src[assoc], dst[assoc], flag[assoc], valid_from[assoc]),
        )

    def events(
        self, con: duckdb.DuckDBPyConnection, snap: Snapshot, execution_ids: list[int], position: int
    ) -> list[EventBytes]:
        """Every event of ``execution_ids`` valid at ``position`` (<= ``snap.position``), serialized and
        framed; cached per execution, read from the database for executions not cached yet."""
        found: list[EventBytes] = []
        missing = []
        cache = self._events
        for execution_id in execution_ids:
            events = cache.get(execution_id)
            if events is None:
                missing.append(execution_id)
            else:
                found.extend(events)
        if missing:
            built: dict[int, list[EventBytes]] = {i: [] for i in missing}
            rows = con.execute(
                "SELECT artifact_id, execution_id, type, path, milliseconds_since_epoch, system_metadata, valid_from "
                "FROM event_versions WHERE valid_from <= ? AND execution_id IN (SELECT unnest(?::BIGINT[]))",
                [snap.position, missing],
            ).fetchall()
            for row in rows:
                data = event_proto(row[:6]).SerializeToString()
                built[row[1]].append(((row[6], row[0], row[1], row[2]), row[0], _EVENTS_TAG + varint(len(data)) + data))
            for events in built.values():
                found.extend(events)
            with self._lock:
                if self._snapshot.position == snap.position:  # no refresh since: complete up to that position
                    cache.update(built)
                    while len(cache) > self.event_cache_executions:
                        cache.popitem(last=False)
        return [e for e in found if e[0][0] <= position]


def walk_step(snap: Snapshot, from_artifacts: bool, frontier: IdArray, output: bool, position: int) -> IdArray:
    """One hop: the executions (from artifacts) or artifacts (from executions) joined to ``frontier`` by events
    whose artifact is (``output``) or is not an output of the execution, valid at ``position``."""
    edges = snap.artifact_executions if from_artifacts else snap.execution_artifacts
    return edges.lookup(frontier, position, output)
