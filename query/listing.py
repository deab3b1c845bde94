"""Paged listings, walked in windows of the sort key so that a page costs what its rows cost.

A page is the first ``limit`` rows of an ordered query after a keyset position. Through a filter's
``EXISTS`` join DuckDB has no ordered scan that stops early: ``ORDER BY ... LIMIT`` joins and sorts every
match first, so the first page of a filter matching half of 2M versions costs as much as listing all of
them, and grows with the table. Node ids and times are clustered in insertion order (ids come in leased
blocks, times from the log), so a window ``key >= lo AND key < hi`` lets the scan of the node versions skip
row groups by their zone maps, and the join's dynamic filters (the window's ids) skip the property rows
likewise. A :class:`Listing` lists its query one window at a time from where the previous window ended
and stops as soon as it holds the rows asked for; each window's width comes from the matches per key unit
seen so far. Wherever the keys lie, the walk is exact: windows are disjoint ranges of the sort key walked
in order, and rows with equal keys fall in one window, ordered by id.

A listing belongs to one query at one pinned log position. What the log held at a position never changes,
so the reader keeps listings and later pages continue the same walk (one window serves several pages)
instead of running the query again.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from math import ceil
from typing import Any, Final

import duckdb

#: Tables with at most this many versions are listed in one query (windows would only add statements).
SMALL_TABLE: Final = 20_000
#: Bounded windows tried per fill before the rest of the key range is read in one query.
MAX_WINDOWS: Final = 5
#: A window is sized to hold this many times the rows still wanted, by a guessed density of matches and by
#: one learnt from earlier windows. A window too small costs one more query, one too large a longer scan;
#: scans skip whole row groups (~120k rows), so below that a wider window costs next to nothing.
MARGIN: Final = 8.0
LEARNT_MARGIN: Final = 1.25
#: Growth of a window that found nothing.
EMPTY_GROWTH: Final = 8


@dataclass(frozen=True, slots=True)
class OrderedQuery:
    """One paged query, as fixed SQL fragments with parameters: the node versions ``v`` of ``kind`` (joined
    as ``join`` says) that are ``visible`` (at the pinned position) and match ``cond``, ordered by ``key``
    (an integer column of ``v``) then ``v.id``, ascending or not."""

    kind: str
    join: str
    visible: str
    visible_params: tuple[Any, ...]
    cond: str
    cond_params: tuple[Any, ...]
    key: str
    asc: bool

    def select(
        self, columns: str, bound: int | None, after_id: int | None, end: int | None, limit: int | None
    ) -> tuple[str, list[Any]]:
        """The rows (``columns`` then the key) from ``bound`` (inclusive; after ``after_id`` among rows whose
        key equals it) up to ``end`` (exclusive; None: to the last), in order, at most ``limit`` (None: all)."""
        ge, gt, lt = (">=", ">", "<") if self.asc else ("<=", "<", ">")
        direction = "ASC" if self.asc else "DESC"
        sql = (
            f"SELECT {columns}, {self.key} FROM {self.kind}_versions v{self.join} "  # noqa: S608 -- fixed fragments
            f"WHERE {self.visible} AND ({self.cond})"
        )
        params = [*self.visible_params, *self.cond_params]
        if bound is not None:
            sql += f" AND {self.key} {ge} ?"
            params.append(bound)
            if after_id is not None:
                sql += f" AND ({self.key} {gt} ? OR v.id {gt} ?)"
                params += [bound, after_id]
        if end is not None:
            sql += f" AND {self.key} {lt} ?"
            params.append(end)
        sql += f" ORDER BY {self.key} {direction}, v.id {direction}"
        return (sql if limit is None else f"{sql} LIMIT {int(limit)}"), params

    def next_visible(self, con: duckdb.DuckDBPyConnection, bound: int) -> int | None:
        """The first key from ``bound`` on (in the query's order) of any visible version, matching or not
        (None: there is none). Cheaper than a window: one table, no join."""
        ge, direction = (">=", "ASC") if self.asc else ("<=", "DESC")
        sql = (
            f"SELECT {self.key} FROM {self.kind}_versions v WHERE {self.visible} "  # noqa: S608 -- fixed fragments
            f"AND {self.key} {ge} ? ORDER BY {self.key} {direction} LIMIT 1"
        )
        row = con.execute(sql, [*self.visible_params, bound]).fetchone()
        return None if row is None else int(row[0])

    def key_range(self, con: duckdb.DuckDBPyConnection) -> tuple[int, int, int] | None:
        """(smallest key, largest key, rows) over every version of the table (a superset of any position's
        versions; DuckDB answers it from the column statistics), or None when the table is empty."""
        sql = f"SELECT min({self.key}), max({self.key}), count(*) FROM {self.kind}_versions v"  # noqa: S608 -- allow-listed
        row = con.execute(sql).fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1]), int(row[2])


class Listing:
    """The rows of one :class:`OrderedQuery` from a starting keyset on, listed window by window.

    ``ids`` and ``keys`` are the listed rows in order. ``rows`` holds the selected columns of some of them
    (``columns`` names them), the reader's read-ahead. ``bound``/``after_id`` is where listing continues;
    ``done`` is set once every row has been listed.
    """

    __slots__ = (
        "after_id", "bound", "columns", "density", "done", "ids", "keys", "marks", "probed", "query", "range",
        "rows", "width",
    )

    def __init__(self, query: OrderedQuery, start: tuple[int, int] | None = None) -> None:
        self.query = query
        self.ids = array("q")
        self.keys = array("q")
        #: Index of the row after each keyset (key, id) a page ended at: where the next page's token resumes.
        self.marks: dict[tuple[int, int], int] = {} if start is None else {start: 0}
        self.columns = ""
        self.rows: dict[int, tuple[Any, ...]] = {}
        self.bound: int | None = None if start is None else start[0]
        self.after_id: int | None = None if start is None else start[1]
        self.done = False
        #: (smallest key, largest key, rows) of the table, read on the first fill.
        self.range: tuple[int, int, int] | None = None
        #: Matching rows per key unit, as far as the walk has seen (None: nothing seen yet).
        self.density: float | None = None
        #: Whether the walk has looked for the next visible key after an empty window (it does so once).
        self.probed = False
        #: The width of the last window when it fell short (0 otherwise): the next one is at least as wide.
        self.width = 0

    def fill(self, con: duckdb.DuckDBPyConnection, want: int, columns: str | None = None) -> None:
        """List rows until ``want`` are listed or none are left; with ``columns`` (starting with ``v.id``),
        keep those of the rows listed now in ``rows`` (one query lists and reads a first page)."""
        if self.done or len(self.ids) >= want:
            return
        if self.range is None:
            self.range = self.query.key_range(con)
            if self.range is None:
                self.done = True
                return
        if columns is not None and columns != self.columns:
            self.columns, self.rows = columns, {}
        lo, hi, total = self.range
        asc = self.query.asc
        windows = 0
        while not self.done and len(self.ids) < want:
            need = want - len(self.ids)
            bound = self.bound if self.bound is not None else (lo if asc else hi)
            end = None
            windows += 1
            density = self._density(lo, hi, total)
            if total > SMALL_TABLE and windows <= MAX_WINDOWS:
                width = max(1, ceil(need * (MARGIN if self.density is None else LEARNT_MARGIN) / density))
                width = max(width, self.width)  # after a window that fell short, never a narrower one
                end = bound + width if asc else bound - width
                if (end > hi) if asc else (end < lo):
                    end = None
            sql, params = self.query.select(columns or "v.id", bound, self.after_id, end, need)
            rows = con.execute(sql, params).fetchall()
            self._append(rows, columns is not None)
            if len(rows) == need:  # the window holds more: continue after its last row
                self.density = need / (abs(rows[-1][-1] - rows[0][-1]) + 1)  # not counting a gap before them
                self.bound, self.after_id = rows[-1][-1], rows[-1][0]
                self.width = 0
                continue
            self.width = abs(end - bound) if end is not None else 0
            if end is None:
                self.done = True
            elif rows or self.probed:  # the whole window is listed: continue at its end
                self.density = len(rows) / abs(end - bound) if rows else density / EMPTY_GROWTH
                self.bound, self.after_id = end, None
            else:
                # Nothing in the first window: the versions there may all be superseded (an order by update
                # time over a history of updates); jump to the next visible version's key, once.
                self.probed = True
                found = self.query.next_visible(con, end)
                self.done = found is None
                if found == end:
                    # Versions are visible there, they just do not match: a selective filter (a name, an id).
                    # Its matches are few, so one query for the rest costs less than growing windows.
                    windows = MAX_WINDOWS
                self.bound, self.after_id = found, None

    def _density(self, lo: int, hi: int, total: int) -> float:
        """Matching rows per key unit: as seen so far; before anything is seen, an upper bound for ids (one
        visible version per id) and the table's versions per unit for times."""
        if self.density is not None:
            return self.density
        return 1.0 if self.query.key == "v.id" else max(total / (hi - lo + 1), 1e-9)

    def _append(self, rows: list[tuple[Any, ...]], keep: bool) -> None:
        self.ids.extend(r[0] for r in rows)
        self.keys.extend(r[-1] for r in rows)
        if keep:
            self.rows.update((r[0], r[:-1]) for r in rows)

    def resume(self, last_key: int, last_id: int) -> int | None:
        """The index of the row after a page that ended at (``last_key``, ``last_id``), or None when no page
        of this listing ended there."""
        return self.marks.get((last_key, last_id))

    def page(self, index: int, limit: int) -> tuple[list[int], tuple[int, int] | None]:
        """The ids of the page at ``index`` and the keyset it ends at when rows follow it (None at the end;
        call :meth:`fill` for ``index + limit + 1`` rows first)."""
        ids = self.ids[index : index + limit].tolist()
        last = index + limit - 1
        if last + 1 >= len(self.ids):
            return ids, None
        end = (self.keys[last], self.ids[last])
        self.marks[end] = last + 1
        return ids, end

    def forget_before(self, index: int, keep: int) -> int:
        """Drop the listed rows before ``index`` once more than ``keep`` are listed (readers page forward;
        a token of a dropped page starts a new listing). Returns the new value of ``index``."""
        if len(self.ids) <= keep or index == 0:
            return index
        del self.ids[:index], self.keys[:index]
        self.marks = {k: i - index for k, i in self.marks.items() if i >= index}
        return 0
