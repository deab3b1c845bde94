"""MLMD's read API over the DuckDB projection, with ``as_of`` on every read.

Every query is assembled from fixed SQL fragments chosen by code (node kind,
ordering) with every value passed as a parameter; no caller text reaches SQL.
Semantics follow MLMD 1.17.1 (docs/design.md, "MLMD's semantics"): ``*_by_id``
drops missing ids and returns id order; unknown types give empty lists.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from operator import itemgetter
from typing import Any, Literal, overload

import duckdb
import numpy as np
import pyarrow as pa

from mlmd_log.errors import InvalidArgumentError, NotFoundError
from mlmd_log.query.asof import AsOf, resolve_as_of, version_filter
from mlmd_log.query.cache import NodeCache
from mlmd_log.query.convert import event_proto, node_rows, node_select, row_proto, type_proto
from mlmd_log.query.diff import EntityChange, entity_changes
from mlmd_log.query.filter_query import compile_filter
from mlmd_log.query.history import Change, Version, changes, op_at, op_log, op_position, version_positions
from mlmd_log.query.lineage import Reached, traverse, walk
from mlmd_log.query.lineage_index import LineageIndex, Snapshot
from mlmd_log.query.listing import Listing, OrderedQuery
from mlmd_log.query.options import ListOptions, OrderByField
from mlmd_log.query.paging import PageToken, query_digest
from mlmd_log.query.sql import Output, convert_output, run_sql
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.rows import NODE_MESSAGE, NodeRow
from mlmd_log.schemas.v1 import ops_pb2
from mlmd_log.schemas.wire import varint

_ORDER = {
    OrderByField.ID: "v.id",
    OrderByField.CREATE_TIME: "v.create_time_since_epoch",
    OrderByField.UPDATE_TIME: "v.last_update_time_since_epoch",
}
_LINK = {"artifact": ("attribution", "artifact_id"), "execution": ("association", "execution_id")}


_MAX_STARTING_NODES = 100
#: Paged listings are kept per query and pinned position (a few of them), up to this many listed rows each.
_MAX_LISTING = 1_000_000
_MAX_LISTINGS = 8
#: From the second page on, ids are listed ahead (at least this many, doubling up to the maximum) and rows
#: read this many pages ahead.
_LIST_AHEAD = 4_000
_MAX_LIST_AHEAD = 200_000
_READ_AHEAD_PAGES = 20
_MAX_NODES = 100_000


def _warn_truncated() -> None:
    import warnings

    warnings.warn(
        f"lineage subgraph cut at {_MAX_NODES:,} nodes: narrow the starting nodes or max_num_hops",
        ResultTruncatedWarning,
        stacklevel=3,
    )


class ResultTruncatedWarning(UserWarning):
    """A result was cut short by a limit; the warning says which."""


def _check_kind(kind: str) -> None:
    if kind not in ("artifact", "execution", "context"):
        raise InvalidArgumentError(f"kind must be artifact, execution or context, not {kind!r}")


def _id_in(ids: Sequence[int]) -> tuple[str, list[Any]]:
    """``v.id IN (...)``: placeholders for a few ids, one list parameter beyond (cheaper to plan)."""
    if len(ids) <= 8:
        return f"v.id IN ({', '.join('?' * len(ids))})", list(ids)
    return "v.id IN (SELECT unnest(?::BIGINT[]))", [list(ids)]


class Reader:
    """Reads the projection behind ``con`` (a connection or cursor this object may use freely)."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, cache: NodeCache | None = None, links: LineageIndex | None = None,
        *, frozen: bool = False,
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
        self._type_table: tuple[int, list[tuple[Any, ...]], dict[tuple[int, int], dict[str, int]]] | None = None
        self._listings: OrderedDict[tuple[str, str, int], Listing] = OrderedDict()

    def on_commit(
        self, current: Mapping[str, Iterable[NodeRow]], changed: Mapping[str, Iterable[int]], aliases: bool,
        types: bool = False,
    ) -> None:
        """Bring cached state up to a projector commit (wired by the store that owns the projector)."""
        if aliases:
            self._alias_map = None
        if types:
            self._type_table = None
        if self.cache is not None:
            self.cache.commit(current, changed, aliases, types)

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

    # -- generic machinery ------------------------------------------------------------------------------

    def _position(self, as_of: AsOf) -> int | None:
        # A position at or below a checkpoint already seen is valid for good (the log only grows): no query.
        if type(as_of) is int and -1 <= as_of <= self._known_checkpoint:
            return as_of
        position = resolve_as_of(self.con, as_of)
        if position is not None and type(as_of) is int:
            self._known_checkpoint = max(self._known_checkpoint, position)
        return position

    def _nodes(
        self, kind: str, cond: str, params: Sequence[Any], position: int | None,
        options: ListOptions | None = None,
    ) -> list[Any]:
        return self._page(kind, cond, params, position, options, None)[0]

    def _page(
        self, kind: str, cond: str, params: Sequence[Any], position: int | None,
        options: ListOptions | None, page_token: str | None,
    ) -> tuple[list[Any], str | None]:
        """One page of nodes matching ``cond`` and the token for the next page (None at the end)."""
        rows, token = self._select(kind, "v.id, v.proto", cond, params, position, options, page_token)
        parse = NODE_MESSAGE[kind].FromString
        return [parse(r[1]) for r in rows], token

    def _node_rows(
        self, kind: str, cond: str, params: Sequence[Any], position: int | None,
        options: ListOptions | None, page_token: str | None,
    ) -> tuple[list[NodeRow], str | None]:
        rows, token = self._select(kind, node_select(kind), cond, params, position, options, page_token)
        return node_rows(kind, rows), token

    def _select(
        self, kind: str, columns: str, cond: str, params: Sequence[Any], position: int | None,
        options: ListOptions | None, page_token: str | None,
    ) -> tuple[list[tuple[Any, ...]], str | None]:
        """Rows (``columns``, which start with ``v.id``) of the node versions matching ``cond``, paged."""
        options = options or ListOptions()
        order_by = options.order_by or OrderByField.ID
        digest = query_digest(kind, cond, list(params), options.filter_query, int(order_by), options.is_asc)
        column = _ORDER[order_by]
        token = None
        if page_token is not None:
            token = PageToken.decode(page_token)
            if token.query != digest or token.order != int(order_by) or token.asc != options.is_asc:
                raise InvalidArgumentError("Invalid next_page_token: it belongs to a different query or ordering")
            if position is not None and position != token.position:
                raise InvalidArgumentError("Invalid next_page_token: it was issued for another as_of position")
            position = token.position
        elif options.limit is not None and position is None:
            position = self.log_position()  # pin the listing so later pages see the same state
        vf, vparams = version_filter("v", position)
        if options.filter_query:
            # Compiled from a parsed AST: fixed SQL fragments, every literal a parameter.
            fsql, fparams = compile_filter(kind, options.filter_query, position)
            cond, params = f"({cond}) AND ({fsql})", [*params, *fparams]
        # The type row is joined only for conditions that read it (a filter on `type`).
        join = " JOIN type_versions t ON t.id = v.type_id AND t.valid_to IS NULL" if "t." in cond else ""
        query = OrderedQuery(kind, join, vf, tuple(vparams), cond, tuple(params), column, options.is_asc)
        if options.limit is None:
            after = (token.last_value, token.last_id) if token is not None else (None, None)
            sql, qparams = query.select(columns, after[0], after[1], None, None)
            return [r[:-1] for r in self.con.execute(sql, qparams).fetchall()], None
        assert position is not None
        return self._listing_page(
            query, columns, position, options.limit, token, (position, int(order_by), options.is_asc, digest)
        )

    def _listing_page(
        self, query: OrderedQuery, columns: str, position: int, limit: int, token: PageToken | None,
        token_fields: tuple[int, int, bool, str],
    ) -> tuple[list[tuple[Any, ...]], str | None]:
        """One page from the listing of ``query`` at its pinned ``position``, kept for the pages after it.

        A page token pins a log position, and what the log held there never changes, so a listing walked
        once (query/listing.py) serves every later page; a token it does not know starts a new one.
        """
        key = (query.kind, token_fields[3], position)
        listing = self._listings.get(key)
        start = None
        if listing is not None:
            self._listings.move_to_end(key)
            start = listing.resume(token.last_value, token.last_id) if token is not None else None
        if listing is None or start is None:
            # A first page is always walked afresh (it costs a few windows), and kept unless a listing of
            # the same query and position is being paged through already (its tokens resume there).
            fresh = Listing(query, None if token is None else (token.last_value, token.last_id))
            if listing is None or token is not None:
                self._listings[key] = fresh
                while len(self._listings) > _MAX_LISTINGS:
                    self._listings.popitem(last=False)
            listing, start = fresh, 0
        start = listing.forget_before(start, _MAX_LISTING)
        read_ahead = max(limit * _READ_AHEAD_PAGES, 1_000)
        rows = listing.rows
        if token is None:
            listing.fill(self.con, limit + 1, columns)  # a first page: one walk lists and reads it
            rows = listing.rows
        else:
            # Later pages list ids ahead, more each time (paging through is the norm), and read rows ahead.
            listed = len(listing.ids)
            unread = columns != listing.columns or listed < start + limit or any(
                i not in rows for i in listing.ids[start : start + limit]
            )
            if listed < start + limit + 1 or (unread and listed < start + read_ahead):
                more = min(max(listed, read_ahead, _LIST_AHEAD), _MAX_LIST_AHEAD)
                listing.fill(self.con, start + limit + 1 + more)
        ids, end = listing.page(start, limit)
        next_token = None
        if end is not None:
            pos, order, asc, digest = token_fields
            next_token = PageToken(pos, order, asc, end[0], end[1], digest).encode()
        if not ids:
            return [], next_token
        if columns != listing.columns or any(i not in rows for i in ids):
            # Read ahead: the rows of the next several pages in one query (sequential paging is the norm).
            ahead = listing.ids[start : start + read_ahead].tolist()
            vf, vparams = version_filter("v", position)
            cond, params = _id_in(ahead)
            listing.columns = columns
            # The id bounds let the scan skip row groups before the id list is built (ids are clustered).
            listing.rows = rows = {r[0]: r for r in self.con.execute(
                f"SELECT {columns} FROM {query.kind}_versions v WHERE {vf} AND v.id BETWEEN ? AND ? AND {cond}",
                [*vparams, min(ahead), max(ahead), *params],
            ).fetchall()}
        return [rows[i] for i in ids], next_token

    def _resolve_ids(self, kind: str, ids: Sequence[int], position: int | None) -> list[int]:
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

    def _current_aliases(self, kind: str) -> dict[int, int]:
        # Readers sharing a cache (one per server thread) learn of new aliases through its alias generation.
        if self.cache is not None and self.cache.alias_generation != self._alias_generation:
            self._alias_map = None
            self._alias_generation = self.cache.alias_generation
        if self._alias_map is None:
            loaded: dict[str, dict[int, int]] = {"artifact": {}, "execution": {}, "context": {}}
            for k, alias_id, canonical in self.con.execute(
                "SELECT kind, alias_id, canonical_id FROM id_aliases"
            ).fetchall():
                loaded[k][alias_id] = canonical
            self._alias_map = loaded
        return self._alias_map[kind]

    def _by_ids(self, kind: str, ids: Sequence[int], as_of: AsOf) -> list[Any]:
        position = self._position(as_of)
        cache = self.cache
        if position is not None:
            wanted = self._resolve_ids(kind, list(ids), position)
            return self._nodes(kind, *_id_in(wanted), position) if wanted else []
        if cache is None:
            aliases = self._current_aliases(kind)
            wanted = sorted({aliases.get(i, i) for i in ids})
            return self._nodes(kind, *_id_in(wanted), None) if wanted else []
        generation = cache.generation
        aliases = self._current_aliases(kind)
        found: dict[int, NodeRow] = {}
        missing = []
        for node_id in {aliases.get(i, i) for i in ids}:
            hit = cache.get(kind, node_id)
            if hit is None:
                missing.append(node_id)
            else:
                found[node_id] = hit
        if missing:
            rows = self._node_rows(kind, *_id_in(missing), None, None, None)[0]
            cache.fill(rows, generation)
            found.update((r.id, r) for r in rows)
        return [row_proto(found[i]) for i in sorted(found)]

    def _type_ids(self, kind: str, type_name: str, type_version: str | None) -> list[int]:
        if type_version is None:
            rows = self.con.execute(
                "SELECT id FROM type_versions WHERE kind = ? AND name = ? AND version IS NULL AND valid_to IS NULL",
                [kind, type_name],
            ).fetchall()
        else:
            rows = self.con.execute(
                "SELECT id FROM type_versions WHERE kind = ? AND name = ? AND version = ? AND valid_to IS NULL",
                [kind, type_name, type_version],
            ).fetchall()
        return [r[0] for r in rows]

    def _by_type(
        self, kind: str, type_name: str, type_version: str | None, options: ListOptions | None, as_of: AsOf
    ) -> list[Any]:
        type_ids = self._type_ids(kind, type_name, type_version)
        if not type_ids:
            return []
        return self._nodes(kind, "v.type_id = ?", [type_ids[0]], self._position(as_of), options)

    def _by_type_and_name(
        self, kind: str, type_name: str, name: str, type_version: str | None, as_of: AsOf
    ) -> Any | None:
        type_ids = self._type_ids(kind, type_name, type_version)
        if not type_ids:
            return None
        found = self._nodes(kind, "v.type_id = ? AND v.name = ?", [type_ids[0], name], self._position(as_of))
        return found[0] if found else None

    def _by_external_ids(self, kind: str, external_ids: Sequence[str], as_of: AsOf) -> list[Any]:
        if not external_ids:
            return []
        return self._nodes(
            kind, "v.external_id IN (SELECT unnest(?::VARCHAR[]))", [list(external_ids)], self._position(as_of)
        )

    def _by_context(self, kind: str, context_id: int, options: ListOptions | None, as_of: AsOf) -> list[Any]:
        position = self._position(as_of)
        (context_id,) = self._resolve_ids("context", [context_id], position)
        table, column = _LINK[kind]
        rf, rparams = version_filter("r", position)
        return self._nodes(
            kind,
            f"v.id IN (SELECT r.{column} FROM {table}_versions r WHERE r.context_id = ? AND {rf})",
            [context_id, *rparams],
            position,
            options,
        )

    def _contexts_of(self, kind: str, node_id: int, as_of: AsOf) -> list[Any]:
        position = self._position(as_of)
        (node_id,) = self._resolve_ids(kind, [node_id], position)
        table, column = _LINK[kind]
        rf, rparams = version_filter("r", position)
        return self._nodes(
            "context",
            f"v.id IN (SELECT r.context_id FROM {table}_versions r WHERE r.{column} = ? AND {rf})",
            [node_id, *rparams],
            position,
        )

    # -- artifacts, executions, contexts --------------------------------------------------------------

    def get_nodes_page(
        self, kind: str, list_options: ListOptions | None = None, page_token: str | None = None,
        *, as_of: AsOf = None,
    ) -> tuple[list[Any], str | None]:
        """One page of artifacts, executions or contexts (``kind``) and the next page's token (None at the end).

        The first page pins the listing to the current log position; pass the token back to continue.
        """
        _check_kind(kind)
        return self._page(kind, "TRUE", [], self._position(as_of), list_options, page_token)

    def get_nodes_by_type_page(
        self, kind: str, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None,
        page_token: str | None = None, *, as_of: AsOf = None,
    ) -> tuple[list[Any], str | None]:
        """One page of the nodes of a type, and the next page's token (None at the end)."""
        _check_kind(kind)
        type_ids = self._type_ids(kind, type_name, type_version)
        if not type_ids:
            return [], None
        return self._page(kind, "v.type_id = ?", [type_ids[0]], self._position(as_of), list_options, page_token)

    def get_nodes_by_context_page(
        self, kind: str, context_id: int, list_options: ListOptions | None = None, page_token: str | None = None,
        *, as_of: AsOf = None,
    ) -> tuple[list[Any], str | None]:
        """One page of the artifacts or executions (``kind``) of a context, and the next page's token."""
        if kind not in _LINK:
            raise InvalidArgumentError(f"kind must be artifact or execution, not {kind!r}")
        position = self._position(as_of)
        if position is None:
            position = self.log_position()  # membership and nodes read at one pinned position
        if page_token is not None:
            position = PageToken.decode(page_token).position
        (context_id,) = self._resolve_ids("context", [context_id], position)
        table, column = _LINK[kind]
        rf, rparams = version_filter("r", position)
        cond = f"v.id IN (SELECT r.{column} FROM {table}_versions r WHERE r.context_id = ? AND {rf})"
        return self._page(kind, cond, [context_id, *rparams], position, list_options, page_token)

    def get_artifacts(self, list_options: ListOptions | None = None, *, as_of: AsOf = None) -> list[mlmd.Artifact]:
        return self._nodes("artifact", "TRUE", [], self._position(as_of), list_options)

    def get_executions(self, list_options: ListOptions | None = None, *, as_of: AsOf = None) -> list[mlmd.Execution]:
        return self._nodes("execution", "TRUE", [], self._position(as_of), list_options)

    def get_contexts(self, list_options: ListOptions | None = None, *, as_of: AsOf = None) -> list[mlmd.Context]:
        return self._nodes("context", "TRUE", [], self._position(as_of), list_options)

    def get_artifacts_by_id(self, artifact_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Artifact]:
        return self._by_ids("artifact", artifact_ids, as_of)

    def get_executions_by_id(self, execution_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Execution]:
        return self._by_ids("execution", execution_ids, as_of)

    def get_contexts_by_id(self, context_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Context]:
        return self._by_ids("context", context_ids, as_of)

    def get_artifacts_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None,
        *, as_of: AsOf = None,
    ) -> list[mlmd.Artifact]:
        return self._by_type("artifact", type_name, type_version, list_options, as_of)

    def get_executions_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None,
        *, as_of: AsOf = None,
    ) -> list[mlmd.Execution]:
        return self._by_type("execution", type_name, type_version, list_options, as_of)

    def get_contexts_by_type(
        self, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None,
        *, as_of: AsOf = None,
    ) -> list[mlmd.Context]:
        return self._by_type("context", type_name, type_version, list_options, as_of)

    def get_artifact_by_type_and_name(
        self, type_name: str, artifact_name: str, type_version: str | None = None, *, as_of: AsOf = None
    ) -> mlmd.Artifact | None:
        return self._by_type_and_name("artifact", type_name, artifact_name, type_version, as_of)

    def get_execution_by_type_and_name(
        self, type_name: str, execution_name: str, type_version: str | None = None, *, as_of: AsOf = None
    ) -> mlmd.Execution | None:
        return self._by_type_and_name("execution", type_name, execution_name, type_version, as_of)

    def get_context_by_type_and_name(
        self, type_name: str, context_name: str, type_version: str | None = None, *, as_of: AsOf = None
    ) -> mlmd.Context | None:
        return self._by_type_and_name("context", type_name, context_name, type_version, as_of)

    def get_artifacts_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.Artifact]:
        return self._by_external_ids("artifact", external_ids, as_of)

    def get_executions_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.Execution]:
        return self._by_external_ids("execution", external_ids, as_of)

    def get_contexts_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.Context]:
        return self._by_external_ids("context", external_ids, as_of)

    def get_artifacts_by_uri(self, uri: str, *, as_of: AsOf = None) -> list[mlmd.Artifact]:
        return self._nodes("artifact", "v.uri = ?", [uri], self._position(as_of))

    def get_artifacts_by_context(
        self, context_id: int, list_options: ListOptions | None = None, *, as_of: AsOf = None
    ) -> list[mlmd.Artifact]:
        return self._by_context("artifact", context_id, list_options, as_of)

    def get_executions_by_context(
        self, context_id: int, list_options: ListOptions | None = None, *, as_of: AsOf = None
    ) -> list[mlmd.Execution]:
        return self._by_context("execution", context_id, list_options, as_of)

    def get_contexts_by_artifact(self, artifact_id: int, *, as_of: AsOf = None) -> list[mlmd.Context]:
        found = self._contexts_of("artifact", artifact_id, as_of)
        if not found:
            raise NotFoundError(f"No contexts found for artifact_id: {artifact_id}")
        return found

    def get_contexts_by_execution(self, execution_id: int, *, as_of: AsOf = None) -> list[mlmd.Context]:
        found = self._contexts_of("execution", execution_id, as_of)
        if not found:
            raise NotFoundError(f"No contexts found for execution_id: {execution_id}")
        return found

    def _context_edges(self, context_id: int, mine: str, other: str, as_of: AsOf) -> list[mlmd.Context]:
        position = self._position(as_of)
        (context_id,) = self._resolve_ids("context", [context_id], position)
        rf, rparams = version_filter("r", position)
        return self._nodes(
            "context",
            f"v.id IN (SELECT r.{other} FROM parent_context_versions r WHERE r.{mine} = ? AND {rf})",
            [context_id, *rparams],
            position,
        )

    def get_artifacts_and_types_by_artifact_ids(
        self, artifact_ids: Sequence[int], *, as_of: AsOf = None
    ) -> list[tuple[mlmd.Artifact, mlmd.ArtifactType]]:
        """Artifacts by id (MLMD order and semantics) each with its type."""
        artifacts = self.get_artifacts_by_id(artifact_ids, as_of=as_of)
        types = {t.id: t for t in self.get_artifact_types_by_id(sorted({a.type_id for a in artifacts}), as_of=as_of)}
        return [(a, types[a.type_id]) for a in artifacts]

    def get_parent_contexts_by_contexts(self, context_ids: Sequence[int], *, as_of: AsOf = None) -> dict[int, list[mlmd.Context]]:
        """Parents of each context that has any (MLMD's batched form)."""
        out = {c: self.get_parent_contexts_by_context(c, as_of=as_of) for c in dict.fromkeys(context_ids)}
        return {c: parents for c, parents in out.items() if parents}

    def get_children_contexts_by_contexts(self, context_ids: Sequence[int], *, as_of: AsOf = None) -> dict[int, list[mlmd.Context]]:
        """Children of each context that has any (MLMD's batched form)."""
        out = {c: self.get_children_contexts_by_context(c, as_of=as_of) for c in dict.fromkeys(context_ids)}
        return {c: children for c, children in out.items() if children}

    def get_parent_contexts_by_context(self, context_id: int, *, as_of: AsOf = None) -> list[mlmd.Context]:
        return self._context_edges(context_id, "child_id", "parent_id", as_of)

    def get_children_contexts_by_context(self, context_id: int, *, as_of: AsOf = None) -> list[mlmd.Context]:
        return self._context_edges(context_id, "parent_id", "child_id", as_of)

    @overload
    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, output: Literal["arrow"] = ...,
        timeout: float | None = None,
    ) -> pa.Table: ...

    @overload
    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, output: Output,
        timeout: float | None = None,
    ) -> Any: ...

    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None, *, output: Output = "arrow",
        timeout: float | None = None,
    ) -> Any:
        """Run one read-only SELECT over the documented tables, views and macros (docs/schema.md).

        ``timeout`` (seconds) stops a longer query with DeadlineExceededError; running out of DuckDB's memory
        limit is ResourceExhaustedError.

        Returns a ``pyarrow.Table``; ``output="pandas"`` or ``"polars"`` returns that library's DataFrame
        (FailedPreconditionError naming the package when it is not installed).
        """
        return convert_output(run_sql(self.con, query, params, timeout=timeout), output)

    # -- lineage ---------------------------------------------------------------------------------------

    def _filter_ids(self, kind: str, filter_query: str, position: int | None, limit: int) -> list[int]:
        rows, _ = self._node_rows(kind, "TRUE", [], position, ListOptions(limit=limit, filter_query=filter_query), None)
        return [r.id for r in rows]

    def get_lineage_subgraph(
        self,
        query_options: mlmd.LineageSubgraphQueryOptions,
        field_mask_paths: Sequence[str] | None = None,
        *,
        as_of: AsOf = None,
    ) -> mlmd.LineageGraph:
        """MLMD's lineage subgraph: nodes within ``max_num_hops`` of the starting nodes, with their events,
        types and contexts (``field_mask_paths`` picks LineageGraph fields). ``as_of`` reads the past."""
        options = query_options
        which = options.WhichOneof("starting_nodes")
        start = getattr(options, which) if which else None
        if start is None or not start.filter_query:
            raise InvalidArgumentError("Missing arguments for listing starting nodes.")
        if options.max_num_hops < 0:
            raise InvalidArgumentError(f"max_num_hops cannot be negative: max_num_hops = {options.max_num_hops}")
        generation = self.cache.generation if self.cache is not None and as_of is None else None
        position = self._position(as_of)
        if position is None:
            position = self.log_position()  # one consistent snapshot for every query below
        start_kind = "artifact" if which == "starting_artifacts" else "execution"
        start_ids = self._filter_ids(start_kind, start.filter_query, position, _MAX_STARTING_NODES)
        end_a = (
            self._filter_ids("artifact", options.ending_artifacts.filter_query, position, _MAX_NODES)
            if options.ending_artifacts.filter_query else []
        )
        end_e = (
            self._filter_ids("execution", options.ending_executions.filter_query, position, _MAX_NODES)
            if options.ending_executions.filter_query else []
        )
        include_ending = options.ending_artifacts.include_ending_nodes or options.ending_executions.include_ending_nodes
        snap = self.links.at(self.con, position)
        walker = partial(walk, snap) if snap is not None else partial(traverse, self.con)
        reached = walker(
            start_kind=start_kind, start_ids=start_ids, max_hops=options.max_num_hops,
            direction=options.direction, position=position, end_artifacts=end_a, end_executions=end_e,
            include_ending=include_ending, max_nodes=_MAX_NODES,
        )
        graph = self._lineage_graph(reached, position, field_mask_paths, snap, generation)
        if reached.truncated:
            _warn_truncated()
        return graph

    def _lineage_graph(
        self, reached: Reached, position: int, paths: Sequence[str] | None, snap: Snapshot | None,
        generation: int | None,
    ) -> mlmd.LineageGraph:
        """Assemble the LineageGraph at ``position`` by splicing stored messages as bytes (one parse for the
        whole graph). Links come from the in-memory index when there is one (``snap``), nodes from the cache
        of current versions when the read is of the present (``generation`` is the cache's before it began)."""
        wanted = set(paths or ())

        def want(field: str) -> bool:
            return not wanted or field in wanted

        chunks: list[bytes] = []
        type_ids: dict[str, set[int]] = {}
        context_ids: list[int] = []
        if want("contexts") or want("context_types"):
            context_ids = self._lineage_contexts(reached, position, snap)
        for kind, ids, field, number in (
            ("artifact", reached.artifact_ids, "artifacts", 4),
            ("execution", reached.execution_ids, "executions", 5),
            ("context", context_ids, "contexts", 6),
        ):
            if not ids or not (want(field) or want(f"{kind}_types")):
                continue
            rows = self._lineage_nodes(kind, ids, position, generation)
            type_ids[kind] = {r[0] for r in rows}
            if want(field):
                tag = bytes([(number << 3) | 2])
                chunks.extend(tag + varint(len(r[1])) + r[1] for r in rows)
        if want("events") and reached.artifact_ids and reached.execution_ids:
            chunks.extend(self._lineage_events(reached, position, snap))
        graph = mlmd.LineageGraph()
        graph.MergeFromString(b"".join(chunks))
        for kind, field in (("artifact", "artifact_types"), ("execution", "execution_types"),
                            ("context", "context_types")):
            if want(field) and type_ids.get(kind):
                getattr(graph, field).extend(self._types_by_ids(kind, type_ids[kind], position))
        return graph

    def _lineage_contexts(self, reached: Reached, position: int, snap: Snapshot | None) -> list[int]:
        """Contexts the reached artifacts are attributed to and the reached executions associated with."""
        if snap is not None:
            found = set(snap.artifact_contexts.lookup(np.asarray(reached.artifact_ids, np.int64), position).tolist())
            found.update(snap.execution_contexts.lookup(np.asarray(reached.execution_ids, np.int64), position).tolist())
            return sorted(found)
        rf, rparams = version_filter("r", position)
        return [
            row[0] for row in self.con.execute(
                f"SELECT r.context_id FROM attribution_versions r WHERE {rf} "
                "AND r.artifact_id IN (SELECT unnest(?::BIGINT[])) "
                f"UNION SELECT r.context_id FROM association_versions r WHERE {rf} "
                "AND r.execution_id IN (SELECT unnest(?::BIGINT[])) ORDER BY 1",
                [*rparams, reached.artifact_ids, *rparams, reached.execution_ids],
            ).fetchall()
        ]

    def _lineage_nodes(
        self, kind: str, ids: list[int], position: int, generation: int | None
    ) -> list[tuple[int, bytes]]:
        """(type id, stored message) of each node at ``position``, in id order. Reads of the present take
        cached current versions that were already valid at ``position`` and fetch (and cache) the rest."""
        cache = self.cache
        found: dict[int, tuple[int, bytes]] = {}
        missing = ids
        if cache is not None and generation is not None:
            missing = []
            for node_id in ids:
                hit = cache.get(kind, node_id)
                if hit is not None and hit.valid_from <= position:
                    found[node_id] = (hit.type_id, hit.proto)
                else:
                    missing.append(node_id)
        if missing:
            vf, vparams = version_filter("v", position)
            rows = self.con.execute(
                f"SELECT {node_select(kind)} FROM {kind}_versions v WHERE {vf} "
                "AND v.id IN (SELECT unnest(?::BIGINT[]))",
                [*vparams, missing],
            ).fetchall()
            if cache is not None and generation is not None:
                # Valid at ``position``; current too when no commit has happened since the read began.
                cache.fill(node_rows(kind, rows), generation)
            found.update((r[0], (r[1], r[-1])) for r in rows)
        return [found[i] for i in sorted(found)]

    def _lineage_events(self, reached: Reached, position: int, snap: Snapshot | None) -> list[bytes]:
        """The events between reached artifacts and reached executions at ``position``, framed as
        LineageGraph.events, ordered by log position, artifact, execution and type."""
        a_ids = set(reached.artifact_ids)
        if snap is not None:
            events = self.links.events(self.con, snap, reached.execution_ids, position)
            events = sorted((e for e in events if e[1] in a_ids), key=itemgetter(0))
            return [e[2] for e in events]
        tag = bytes([(7 << 3) | 2])
        out = []
        for e in self._events_at("execution_id", reached.execution_ids, position):
            if e.artifact_id in a_ids:
                data = e.SerializeToString()
                out.append(tag + varint(len(data)) + data)
        return out

    # -- history and audit ---------------------------------------------------------------------------

    def get_history(self, kind: str, node_id: int) -> list[Version]:
        """Every version of an artifact, execution or context, oldest first, each with the op that wrote it."""
        (node_id,) = self._resolve_ids(kind, [node_id], None)
        out = []
        for valid_from, valid_to, change in version_positions(self.con, kind, node_id):
            (node,) = self._by_ids(kind, [node_id], valid_from)
            out.append(Version(node, valid_from, valid_to, change))
        return out

    def get_changes(self, after: int = -1, up_to: int | None = None) -> list[Change]:
        """Ops in the log positions (after, up_to]: what changed and who changed it."""
        return changes(self.con, after, up_to)

    def get_entity_changes(
        self, after: int = -1, up_to: int | None = None, *, kind: str | None = None, entity_id: int | None = None
    ) -> list[EntityChange]:
        """Every entity version written in log positions (after, up_to]: created/updated nodes and types with
        their changed fields (old and new values), added relations, each with the op, producer and time."""
        return entity_changes(self.con, after, up_to, kind=kind, entity_id=entity_id)

    def get_op(self, position: int) -> ops_pb2.Operation:
        """The op at a log position, decoded."""
        return op_at(self.con, position)

    def get_op_position(self, op_id: str) -> int | None:
        """Where the op with ``op_id`` is in the log (None: not projected): a retried op is recognized by it."""
        return op_position(self.con, op_id)

    def get_op_log(self, after: int = -1, up_to: int | None = None) -> pa.Table:
        """The op log as an Arrow table (position, op_id, payload, outcome, producer, times, rejection)."""
        return op_log(self.con, after, up_to)

    # -- events --------------------------------------------------------------------------------------

    def _events(self, column: str, kind: str, ids: Sequence[int], as_of: AsOf) -> list[mlmd.Event]:
        position = self._position(as_of)
        wanted = self._resolve_ids(kind, list(ids), position)
        return self._events_at(column, wanted, position) if wanted else []

    def _events_at(self, column: str, wanted: Sequence[int], position: int | None) -> list[mlmd.Event]:
        """Events touching ``wanted`` ids (already canonical) at a resolved position."""
        vf, vparams = version_filter("v", position)
        rows = self.con.execute(
            "SELECT artifact_id, execution_id, type, path, milliseconds_since_epoch, system_metadata "
            f"FROM event_versions v WHERE {vf} AND {column} IN (SELECT unnest(?::BIGINT[])) "
            "ORDER BY valid_from, artifact_id, execution_id, type",
            [*vparams, wanted],
        ).fetchall()
        return [event_proto(r) for r in rows]

    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Event]:
        return self._events("artifact_id", "artifact", artifact_ids, as_of)

    def get_events_by_execution_ids(self, execution_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Event]:
        return self._events("execution_id", "execution", execution_ids, as_of)

    # -- types ---------------------------------------------------------------------------------------

    def _types(self, kind: str, cond: str, params: Sequence[Any], as_of: AsOf) -> list[Any]:
        position = self._position(as_of)
        vf, vparams = version_filter("t", position)
        rows = self.con.execute(
            "SELECT t.id, t.name, t.version, t.description, t.external_id, t.base_type, t.input_type, "
            f"t.output_type, t.valid_from FROM type_versions t WHERE {vf} AND t.kind = ? AND ({cond}) ORDER BY t.id",
            [*vparams, kind, *params],
        ).fetchall()
        if not rows:
            return []
        props: dict[tuple[int, int], dict[str, int]] = {}
        for type_id, valid_from, name, data_type in self.con.execute(
            "SELECT p.type_id, p.valid_from, p.name, p.data_type FROM type_property_versions p "
            "JOIN (SELECT unnest(?::BIGINT[]) AS id, unnest(?::BIGINT[]) AS vf) k "
            "ON p.type_id = k.id AND p.valid_from = k.vf ORDER BY p.name",
            [[r[0] for r in rows], [r[-1] for r in rows]],
        ).fetchall():
            props.setdefault((type_id, valid_from), {})[name] = data_type
        return [type_proto(kind, r[:-1], props.get((r[0], r[-1]), {})) for r in rows]

    def _types_by_ids(self, kind: str, type_ids: Iterable[int], position: int | None) -> list[Any]:
        """Types by id at ``position`` from an in-memory copy of the (small) type tables."""
        generation = self.cache.type_generation if self.cache is not None else 0
        if self._type_table is None or self._type_table[0] != generation:
            rows = self.con.execute(
                "SELECT t.id, t.name, t.version, t.description, t.external_id, t.base_type, t.input_type, "
                "t.output_type, t.valid_from, t.valid_to, t.kind FROM type_versions t ORDER BY t.id, t.valid_from"
            ).fetchall()
            props: dict[tuple[int, int], dict[str, int]] = {}
            for type_id, valid_from, name, data_type in self.con.execute(
                "SELECT type_id, valid_from, name, data_type FROM type_property_versions ORDER BY name"
            ).fetchall():
                props.setdefault((type_id, valid_from), {})[name] = data_type
            self._type_table = (generation, rows, props)
        _, rows, props = self._type_table
        wanted = set(type_ids)
        return [
            type_proto(kind, r[:8], props.get((r[0], r[8]), {}))
            for r in rows
            if r[0] in wanted and r[10] == kind
            and ((position is None and r[9] is None) or (position is not None and r[8] <= position
                 and (r[9] is None or r[9] > position)))
        ]

    def _type(self, kind: str, type_name: str, type_version: str | None, as_of: AsOf) -> Any:
        if type_version is None:
            found = self._types(kind, "t.name = ? AND t.version IS NULL", [type_name], as_of)
        else:
            found = self._types(kind, "t.name = ? AND t.version = ?", [type_name, type_version], as_of)
        if not found:
            version = "nullopt" if type_version is None else type_version
            raise NotFoundError(f"No type found for query, name: `{type_name}`, version: `{version}`")
        return found[0]

    def get_artifact_type(self, type_name: str, type_version: str | None = None, *, as_of: AsOf = None) -> mlmd.ArtifactType:
        return self._type("artifact", type_name, type_version, as_of)  # type: ignore[no-any-return]

    def get_execution_type(self, type_name: str, type_version: str | None = None, *, as_of: AsOf = None) -> mlmd.ExecutionType:
        return self._type("execution", type_name, type_version, as_of)  # type: ignore[no-any-return]

    def get_context_type(self, type_name: str, type_version: str | None = None, *, as_of: AsOf = None) -> mlmd.ContextType:
        return self._type("context", type_name, type_version, as_of)  # type: ignore[no-any-return]

    def get_artifact_types(self, *, as_of: AsOf = None) -> list[mlmd.ArtifactType]:
        return self._types("artifact", "t.id >= 10", [], as_of)

    def get_execution_types(self, *, as_of: AsOf = None) -> list[mlmd.ExecutionType]:
        return self._types("execution", "t.id >= 10", [], as_of)

    def get_context_types(self, *, as_of: AsOf = None) -> list[mlmd.ContextType]:
        return self._types("context", "t.id >= 10", [], as_of)

    def get_artifact_types_by_id(self, type_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.ArtifactType]:
        return self._types("artifact", "t.id IN (SELECT unnest(?::BIGINT[]))", [list(type_ids)], as_of)

    def get_execution_types_by_id(self, type_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.ExecutionType]:
        return self._types("execution", "t.id IN (SELECT unnest(?::BIGINT[]))", [list(type_ids)], as_of)

    def get_context_types_by_id(self, type_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.ContextType]:
        return self._types("context", "t.id IN (SELECT unnest(?::BIGINT[]))", [list(type_ids)], as_of)

    def get_artifact_types_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.ArtifactType]:
        return self._types("artifact", "t.external_id IN (SELECT unnest(?::VARCHAR[]))", [list(external_ids)], as_of)

    def get_execution_types_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.ExecutionType]:
        return self._types("execution", "t.external_id IN (SELECT unnest(?::VARCHAR[]))", [list(external_ids)], as_of)

    def get_context_types_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.ContextType]:
        return self._types("context", "t.external_id IN (SELECT unnest(?::VARCHAR[]))", [list(external_ids)], as_of)
