"""MLMD's reads of artifacts, executions and contexts: by id, type, name, external id, URI, context, paged.

Semantics follow MLMD 1.17.1: ``*_by_id`` drops missing ids and returns id
order; unknown types give empty lists; merged ids (aliases) read as the node
they name. Point reads of the present are served from the node cache when the
store keeps one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlmd_log.errors import InvalidArgumentError, NotFoundError
from mlmd_log.query.asof import AsOf, version_filter
from mlmd_log.query.context import ReadContext, check_kind, id_in
from mlmd_log.query.convert import row_proto
from mlmd_log.query.options import ListOptions
from mlmd_log.query.paging import PageToken
from mlmd_log.query.select import NodeSelector
from mlmd_log.query.types import TypeReads
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.rows import NodeRow

_LINK = {"artifact": ("attribution", "artifact_id"), "execution": ("association", "execution_id")}


class NodeReads:
    """The node reads of one reader (its context, node selector and type reads)."""

    def __init__(self, ctx: ReadContext, selector: NodeSelector, types: TypeReads) -> None:
        self.ctx = ctx
        self.selector = selector
        self.types = types

    def by_ids(self, kind: str, ids: Sequence[int], as_of: AsOf) -> list[Any]:
        position = self.ctx.position(as_of)
        cache = self.ctx.cache
        if position is not None:
            wanted = self.ctx.resolve_ids(kind, list(ids), position)
            return self.selector.nodes(kind, *id_in(wanted), position) if wanted else []
        if cache is None:
            aliases = self.ctx.current_aliases(kind)
            wanted = sorted({aliases.get(i, i) for i in ids})
            return self.selector.nodes(kind, *id_in(wanted), None) if wanted else []
        generation = cache.generation
        aliases = self.ctx.current_aliases(kind)
        found: dict[int, NodeRow] = {}
        missing = []
        for node_id in {aliases.get(i, i) for i in ids}:
            hit = cache.get(kind, node_id)
            if hit is None:
                missing.append(node_id)
            else:
                found[node_id] = hit
        if missing:
            rows = self.selector.node_rows(kind, *id_in(missing), None, None, None)[0]
            cache.fill(rows, generation)
            found.update((r.id, r) for r in rows)
        return [row_proto(found[i]) for i in sorted(found)]

    def _type_ids(self, kind: str, type_name: str, type_version: str | None) -> list[int]:
        if type_version is None:
            rows = self.ctx.con.execute(
                "SELECT id FROM type_versions WHERE kind = ? AND name = ? AND version IS NULL AND valid_to IS NULL",
                [kind, type_name],
            ).fetchall()
        else:
            rows = self.ctx.con.execute(
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
        return self.selector.nodes(kind, "v.type_id = ?", [type_ids[0]], self.ctx.position(as_of), options)

    def _by_type_and_name(
        self, kind: str, type_name: str, name: str, type_version: str | None, as_of: AsOf
    ) -> Any | None:
        type_ids = self._type_ids(kind, type_name, type_version)
        if not type_ids:
            return None
        found = self.selector.nodes(kind, "v.type_id = ? AND v.name = ?", [type_ids[0], name], self.ctx.position(as_of))
        return found[0] if found else None

    def _by_external_ids(self, kind: str, external_ids: Sequence[str], as_of: AsOf) -> list[Any]:
        if not external_ids:
            return []
        return self.selector.nodes(
            kind, "v.external_id IN (SELECT unnest(?::VARCHAR[]))", [list(external_ids)], self.ctx.position(as_of)
        )

    def _by_context(self, kind: str, context_id: int, options: ListOptions | None, as_of: AsOf) -> list[Any]:
        position = self.ctx.position(as_of)
        (context_id,) = self.ctx.resolve_ids("context", [context_id], position)
        table, column = _LINK[kind]
        rf, rparams = version_filter("r", position)
        return self.selector.nodes(
            kind,
            f"v.id IN (SELECT r.{column} FROM {table}_versions r WHERE r.context_id = ? AND {rf})",
            [context_id, *rparams],
            position,
            options,
        )

    def _contexts_of(self, kind: str, node_id: int, as_of: AsOf) -> list[Any]:
        position = self.ctx.position(as_of)
        (node_id,) = self.ctx.resolve_ids(kind, [node_id], position)
        table, column = _LINK[kind]
        rf, rparams = version_filter("r", position)
        return self.selector.nodes(
            "context",
            f"v.id IN (SELECT r.context_id FROM {table}_versions r WHERE r.{column} = ? AND {rf})",
            [node_id, *rparams],
            position,
        )

    def get_nodes_page(
        self, kind: str, list_options: ListOptions | None = None, page_token: str | None = None,
        *, as_of: AsOf = None,
    ) -> tuple[list[Any], str | None]:
        """One page of artifacts, executions or contexts (``kind``) and the next page's token (None at the end).

        The first page pins the listing to the current log position; pass the token back to continue.
        """
        check_kind(kind)
        return self.selector.page(kind, "TRUE", [], self.ctx.position(as_of), list_options, page_token)

    def get_nodes_by_type_page(
        self, kind: str, type_name: str, type_version: str | None = None, list_options: ListOptions | None = None,
        page_token: str | None = None, *, as_of: AsOf = None,
    ) -> tuple[list[Any], str | None]:
        """One page of the nodes of a type, and the next page's token (None at the end)."""
        check_kind(kind)
        type_ids = self._type_ids(kind, type_name, type_version)
        if not type_ids:
            return [], None
        return self.selector.page(kind, "v.type_id = ?", [type_ids[0]], self.ctx.position(as_of), list_options, page_token)

    def get_nodes_by_context_page(
        self, kind: str, context_id: int, list_options: ListOptions | None = None, page_token: str | None = None,
        *, as_of: AsOf = None,
    ) -> tuple[list[Any], str | None]:
        """One page of the artifacts or executions (``kind``) of a context, and the next page's token."""
        if kind not in _LINK:
            raise InvalidArgumentError(f"kind must be artifact or execution, not {kind!r}")
        position = self.ctx.position(as_of)
        if position is None:
            position = self.ctx.log_position()  # membership and nodes read at one pinned position
        if page_token is not None:
            position = PageToken.decode(page_token).position
        (context_id,) = self.ctx.resolve_ids("context", [context_id], position)
        table, column = _LINK[kind]
        rf, rparams = version_filter("r", position)
        cond = f"v.id IN (SELECT r.{column} FROM {table}_versions r WHERE r.context_id = ? AND {rf})"
        return self.selector.page(kind, cond, [context_id, *rparams], position, list_options, page_token)

    def get_artifacts(self, list_options: ListOptions | None = None, *, as_of: AsOf = None) -> list[mlmd.Artifact]:
        return self.selector.nodes("artifact", "TRUE", [], self.ctx.position(as_of), list_options)

    def get_executions(self, list_options: ListOptions | None = None, *, as_of: AsOf = None) -> list[mlmd.Execution]:
        return self.selector.nodes("execution", "TRUE", [], self.ctx.position(as_of), list_options)

    def get_contexts(self, list_options: ListOptions | None = None, *, as_of: AsOf = None) -> list[mlmd.Context]:
        return self.selector.nodes("context", "TRUE", [], self.ctx.position(as_of), list_options)

    def get_artifacts_by_id(self, artifact_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Artifact]:
        return self.by_ids("artifact", artifact_ids, as_of)

    def get_executions_by_id(self, execution_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Execution]:
        return self.by_ids("execution", execution_ids, as_of)

    def get_contexts_by_id(self, context_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Context]:
        return self.by_ids("context", context_ids, as_of)

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
        return self.selector.nodes("artifact", "v.uri = ?", [uri], self.ctx.position(as_of))

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
        position = self.ctx.position(as_of)
        (context_id,) = self.ctx.resolve_ids("context", [context_id], position)
        rf, rparams = version_filter("r", position)
        return self.selector.nodes(
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
        types = {t.id: t for t in self.types.get_artifact_types_by_id(sorted({a.type_id for a in artifacts}), as_of=as_of)}
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
