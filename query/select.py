"""Selecting node versions: the one query every node read runs, paged with a cache of listings.

Every query is assembled from fixed SQL fragments chosen by code (node kind,
ordering) with every value passed as a parameter, and a ``filter_query`` is
compiled from its parsed AST; no caller text reaches SQL. Paged reads keep the
listing of their query at its pinned log position (:mod:`~mlmd_log.query.listing`)
for the pages after it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.query.asof import version_filter
from mlmd_log.query.context import ReadContext, id_in
from mlmd_log.query.convert import node_rows, node_select
from mlmd_log.query.filter import compile_filter
from mlmd_log.query.listing import Listing, OrderedQuery
from mlmd_log.query.options import ListOptions, OrderByField
from mlmd_log.query.paging import PageToken, query_digest
from mlmd_log.schemas.rows import NODE_MESSAGE, NodeRow

_ORDER = {
    OrderByField.ID: "v.id",
    OrderByField.CREATE_TIME: "v.create_time_since_epoch",
    OrderByField.UPDATE_TIME: "v.last_update_time_since_epoch",
}
#: Paged listings are kept per query and pinned position (a few of them), up to this many listed rows each.
_MAX_LISTING = 1_000_000
_MAX_LISTINGS = 8
#: From the second page on, ids are listed ahead (at least this many, doubling up to the maximum) and rows
#: read this many pages ahead.
_LIST_AHEAD = 4_000
_MAX_LIST_AHEAD = 200_000
_READ_AHEAD_PAGES = 20


class NodeSelector:
    """Node versions matching a condition, whole or one page at a time (the listings of recent pages kept)."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self._listings: OrderedDict[tuple[str, str, int], Listing] = OrderedDict()

    def nodes(
        self, kind: str, cond: str, params: Sequence[Any], position: int | None,
        options: ListOptions | None = None,
    ) -> list[Any]:
        return self.page(kind, cond, params, position, options, None)[0]

    def page(
        self, kind: str, cond: str, params: Sequence[Any], position: int | None,
        options: ListOptions | None, page_token: str | None,
    ) -> tuple[list[Any], str | None]:
        """One page of nodes matching ``cond`` and the token for the next page (None at the end)."""
        rows, token = self.select(kind, "v.id, v.proto", cond, params, position, options, page_token)
        parse = NODE_MESSAGE[kind].FromString
        return [parse(r[1]) for r in rows], token

    def node_rows(
        self, kind: str, cond: str, params: Sequence[Any], position: int | None,
        options: ListOptions | None, page_token: str | None,
    ) -> tuple[list[NodeRow], str | None]:
        rows, token = self.select(kind, node_select(kind), cond, params, position, options, page_token)
        return node_rows(kind, rows), token

    def select(
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
            position = self.ctx.log_position()  # pin the listing so later pages see the same state
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
            return [r[:-1] for r in self.ctx.con.execute(sql, qparams).fetchall()], None
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
            listing.fill(self.ctx.con, limit + 1, columns)  # a first page: one walk lists and reads it
            rows = listing.rows
        else:
            # Later pages list ids ahead, more each time (paging through is the norm), and read rows ahead.
            listed = len(listing.ids)
            unread = columns != listing.columns or listed < start + limit or any(
                i not in rows for i in listing.ids[start : start + limit]
            )
            if listed < start + limit + 1 or (unread and listed < start + read_ahead):
                more = min(max(listed, read_ahead, _LIST_AHEAD), _MAX_LIST_AHEAD)
                listing.fill(self.ctx.con, start + limit + 1 + more)
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
            cond, params = id_in(ahead)
            listing.columns = columns
            # The id bounds let the scan skip row groups before the id list is built (ids are clustered).
            listing.rows = rows = {r[0]: r for r in self.ctx.con.execute(
                f"SELECT {columns} FROM {query.kind}_versions v WHERE {vf} AND v.id BETWEEN ? AND ? AND {cond}",
                [*vparams, min(ahead), max(ahead), *params],
            ).fetchall()}
        return [rows[i] for i in ids], next_token

