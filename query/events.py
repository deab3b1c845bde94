"""MLMD's event reads: the events of artifacts or of executions, at any ``as_of``."""

from __future__ import annotations

from collections.abc import Sequence

from mlmd_log.query.asof import AsOf, version_filter
from mlmd_log.query.context import ReadContext
from mlmd_log.query.convert import event_proto
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd


class EventReads:
    """The event reads of one reader."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx

    def _events(self, column: str, kind: str, ids: Sequence[int], as_of: AsOf) -> list[mlmd.Event]:
        position = self.ctx.position(as_of)
        if position is None and self.ctx.cache is not None:
            aliases = self.ctx.current_aliases(kind)  # in memory, kept current by the cache's alias generation
            wanted = [aliases.get(i, i) for i in ids]
        else:
            wanted = self.ctx.resolve_ids(kind, list(ids), position)
        return self.events_at(column, wanted, position) if wanted else []

    def events_at(self, column: str, wanted: Sequence[int], position: int | None) -> list[mlmd.Event]:
        """Events touching ``wanted`` ids (already canonical) at a resolved position."""
        vf, vparams = version_filter("v", position)
        few = len(wanted) <= 8  # a short IN list plans and runs faster than unnesting a list parameter
        in_list = f"({', '.join('?' * len(wanted))})" if few else "(SELECT unnest(?::BIGINT[]))"
        rows = self.ctx.con.execute(
            "SELECT artifact_id, execution_id, type, path, milliseconds_since_epoch, system_metadata "
            f"FROM event_versions v WHERE {vf} AND {column} IN {in_list} "
            "ORDER BY valid_from, artifact_id, execution_id, type",
            [*vparams, *wanted] if few else [*vparams, wanted],
        ).fetchall()
        return [event_proto(r) for r in rows]

    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Event]:
        return self._events("artifact_id", "artifact", artifact_ids, as_of)

    def get_events_by_execution_ids(self, execution_ids: Sequence[int], *, as_of: AsOf = None) -> list[mlmd.Event]:
        return self._events("execution_id", "execution", execution_ids, as_of)
