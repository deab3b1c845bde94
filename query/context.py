"""What every read stands on: the connection, the resolved ``as_of`` position and the id aliases.

One :class:`ReadContext` is shared by the concept readers of one
:class:`~mlmd_log.query.reader.Reader` (nodes, types, events, lineage,
history). It owns the state they must agree on: the highest checkpoint seen
(positions at or below it need no query), the frozen position of a read-only
file, and the map of merged node ids (aliases) to the nodes they name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.query.asof import AsOf, resolve_as_of
from mlmd_log.query.cache import NodeCache
from mlmd_log.query.lineage_index import LineageIndex

KINDS = ("artifact", "execution", "context")


def check_kind(kind: str) -> None:
    """Refuse a node kind other than artifact, execution or context."""
    if kind not in KINDS:
        raise InvalidArgumentError(f"kind must be artifact, execution or context, not {kind!r}")


def id_in(ids: Sequence[int]) -> tuple[str, list[Any]]:
    """``v.id IN (...)``: placeholders for a few ids, one list parameter beyond (cheaper to plan)."""
    if len(ids) <= 8:
        return f"v.id IN ({', '.join('?' * len(ids))})", list(ids)
    return "v.id IN (SELECT unnest(?::BIGINT[]))", [list(ids)]


class ReadContext:
    """The connection (a connection or cursor the reader may use freely) and the state shared by its reads."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, cache: NodeCache | None, links: LineageIndex | None, frozen: bool
    ) -> None:
        self.con = con
        #: Nothing writes this database while it is open here (a read-only file): its position never moves.
        self.frozen = frozen
        self._frozen_position: int | None = None
        #: Lineage links in memory (append-only tables, so exact at every position); shared by a store's readers.
        self.links = links if links is not None else LineageIndex()
        #: Current nodes by id, for point gets; only coherent when the projector's owner invalidates it.
        self.cache = cache
        self._alias_map: dict[str, dict[int, int]] | None = None
        self._alias_generation = -1
        self._known_checkpoint = -1

    def log_position(self) -> int:
        """The last log position this projection has applied (-1 when empty): a valid ``as_of``."""
        if self._frozen_position is not None:
            return self._frozen_position
        row = self.con.execute("SELECT position FROM checkpoint WHERE singleton = 1").fetchone()
        position = int(row[0]) if row else -1
        self._known_checkpoint = max(self._known_checkpoint, position)
        if self.frozen:
            self._frozen_position = position
        return position

    def position(self, as_of: AsOf) -> int | None:
        """The log position ``as_of`` names (None: the present)."""
        # A position at or below a checkpoint already seen is valid for good (the log only grows): no query.
        if type(as_of) is int and -1 <= as_of <= self._known_checkpoint:
            return as_of
        position = resolve_as_of(self.con, as_of)
        if position is not None and type(as_of) is int:
            self._known_checkpoint = max(self._known_checkpoint, position)
        return position

    def forget_aliases(self) -> None:
        """Reload the alias map on next use (a commit created aliases, or the projection was rebuilt)."""
        self._alias_map = None

    def resolve_ids(self, kind: str, ids: Sequence[int], position: int | None) -> list[int]:
        """``ids`` with each alias replaced by the node it names at ``position`` (None: now)."""
        if not ids:
            return []
        pos_cond = "" if position is None else " AND valid_from <= ?"
        rows = self.con.execute(
            "SELECT alias_id, canonical_id FROM id_aliases WHERE kind = ? "
            f"AND alias_id IN (SELECT unnest(?::BIGINT[])){pos_cond}",
            [kind, list(ids)] + ([] if position is None else [position]),
        ).fetchall()
        aliases = dict(rows)
        return [aliases.get(i, i) for i in ids]

    def current_aliases(self, kind: str) -> dict[int, int]:
        """Every current alias of ``kind`` -> the node it names, kept in memory."""
        # Readers sharing a cache (one per server thread) learn of new aliases through its alias generation.
        if self.cache is not None and self.cache.alias_generation != self._alias_generation:
            self._alias_map = None
            self._alias_generation = self.cache.alias_generation
        if self._alias_map is None:
            loaded: dict[str, dict[int, int]] = {k: {} for k in KINDS}
            for k, alias_id, canonical in self.con.execute(
                "SELECT kind, alias_id, canonical_id FROM id_aliases"
            ).fetchall():
                loaded[k][alias_id] = canonical
            self._alias_map = loaded
        return self._alias_map[kind]
