"""MLMD's reads of artifact, execution and context types, and the in-memory type table lineage uses.

Types are few: lineage graphs take theirs from a copy of the whole type table
held in memory and reloaded when the node cache says a commit changed types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mlmd_log.errors import NotFoundError
from mlmd_log.query.asof import AsOf, version_filter
from mlmd_log.query.context import ReadContext
from mlmd_log.query.convert import type_proto
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd


class TypeReads:
    """The type reads of one reader."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self._type_table: tuple[int, list[tuple[Any, ...]], dict[tuple[int, int], dict[str, int]]] | None = None

    def forget(self) -> None:
        """Reload the type table on next use (a commit registered or changed types)."""
        self._type_table = None

    def types_where(self, kind: str, cond: str, params: Sequence[Any], as_of: AsOf) -> list[Any]:
        position = self.ctx.position(as_of)
        vf, vparams = version_filter("t", position)
        rows = self.ctx.con.execute(
            "SELECT t.id, t.name, t.version, t.description, t.external_id, t.base_type, t.input_type, "
            f"t.output_type, t.valid_from FROM type_versions t WHERE {vf} AND t.kind = ? AND ({cond}) ORDER BY t.id",
            [*vparams, kind, *params],
        ).fetchall()
        if not rows:
            return []
        props: dict[tuple[int, int], dict[str, int]] = {}
        for type_id, valid_from, name, data_type in self.ctx.con.execute(
            "SELECT p.type_id, p.valid_from, p.name, p.data_type FROM type_property_versions p "
            "JOIN (SELECT unnest(?::BIGINT[]) AS id, unnest(?::BIGINT[]) AS vf) k "
            "ON p.type_id = k.id AND p.valid_from = k.vf ORDER BY p.name",
            [[r[0] for r in rows], [r[-1] for r in rows]],
        ).fetchall():
            props.setdefault((type_id, valid_from), {})[name] = data_type
        return [type_proto(kind, r[:-1], props.get((r[0], r[-1]), {})) for r in rows]

    def by_ids(self, kind: str, type_ids: Iterable[int], position: int | None) -> list[Any]:
        """Types by id at ``position`` from an in-memory copy of the (small) type tables."""
        generation = self.ctx.cache.type_generation if self.ctx.cache is not None else 0
        if self._type_table is None or self._type_table[0] != generation:
            rows = self.ctx.con.execute(
                "SELECT t.id, t.name, t.version, t.description, t.external_id, t.base_type, t.input_type, "
                "t.output_type, t.valid_from, t.valid_to, t.kind FROM type_versions t ORDER BY t.id, t.valid_from"
            ).fetchall()
            props: dict[tuple[int, int], dict[str, int]] = {}
            for type_id, valid_from, name, data_type in self.ctx.con.execute(
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

    def type_named(self, kind: str, type_name: str, type_version: str | None, as_of: AsOf) -> Any:
        if type_version is None:
            found = self.types_where(kind, "t.name = ? AND t.version IS NULL", [type_name], as_of)
        else:
            found = self.types_where(kind, "t.name = ? AND t.version = ?", [type_name, type_version], as_of)
        if not found:
            version = "nullopt" if type_version is None else type_version
            raise NotFoundError(f"No type found for query, name: `{type_name}`, version: `{version}`")
        return found[0]

    def get_artifact_type(self, type_name: str, type_version: str | None = None, *, as_of: AsOf = None) -> mlmd.ArtifactType:
        return self.type_named("artifact", type_name, type_version, as_of)  # type: ignore[no-any-return]

    def get_execution_type(self, type_name: str, type_version: str | None = None, *, as_of: AsOf = None) -> mlmd.ExecutionType:
        return self.type_named("execution", type_name, type_version, as_of)  # type: ignore[no-any-return]

    def get_context_type(self, type_name: str, type_version: str | None = None, *, as_of: AsOf = None) -> mlmd.ContextType:
        return self.type_named("context", type_name, type_version, as_of)  # type: ignore[no-any-return]

    def get_artifact_types(self, *, as_of: AsOf = None) -> list[mlmd.ArtifactType]:
        return self.types_where("artifact", "t.id >= 10", [], as_of)

    def get_execution_types(self, *, as_of: AsOf = None) -> list[mlmd.ExecutionType]:
        return self.types_where("execution", "t.id >= 10", [], as_of)

    def get_context_types(self, *, as_of: AsOf = None) -> list[mlmd.ContextType]:
        return self.types_where("context", "t.id >= 10", [], as_of)

    def get_artifact_types_by_id(self, type_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.ArtifactType]:
        return self.types_where("artifact", "t.id IN (SELECT unnest(?::BIGINT[]))", [list(type_ids)], as_of)

    def get_execution_types_by_id(self, type_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.ExecutionType]:
        return self.types_where("execution", "t.id IN (SELECT unnest(?::BIGINT[]))", [list(type_ids)], as_of)

    def get_context_types_by_id(self, type_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.ContextType]:
        return self.types_where("context", "t.id IN (SELECT unnest(?::BIGINT[]))", [list(type_ids)], as_of)

    def get_artifact_types_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.ArtifactType]:
        return self.types_where("artifact", "t.external_id IN (SELECT unnest(?::VARCHAR[]))", [list(external_ids)], as_of)

    def get_execution_types_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.ExecutionType]:
        return self.types_where("execution", "t.external_id IN (SELECT unnest(?::VARCHAR[]))", [list(external_ids)], as_of)

    def get_context_types_by_external_ids(self, external_ids: Sequence[str], *, as_of: AsOf = None) -> list[mlmd.ContextType]:
        return self.types_where("context", "t.external_id IN (SELECT unnest(?::VARCHAR[]))", [list(external_ids)], as_of)
