"""History and audit reads: every version of a node, the ops in a range of the log, one op, the op log.

The queries live in :mod:`~mlmd_log.query.history` and :mod:`~mlmd_log.query.diff`;
this is their face on a reader.
"""

from __future__ import annotations

import pyarrow as pa

from mlmd_log.query.context import ReadContext
from mlmd_log.query.diff import EntityChange, entity_changes
from mlmd_log.query.history import Change, Version, changes, op_at, op_log, op_position, version_positions
from mlmd_log.query.nodes import NodeReads
from mlmd_log.schemas.v1 import ops_pb2


class HistoryReads:
    """The history and audit reads of one reader."""

    def __init__(self, ctx: ReadContext, nodes: NodeReads) -> None:
        self.ctx = ctx
        self.nodes = nodes

    def get_history(self, kind: str, node_id: int) -> list[Version]:
        """Every version of an artifact, execution or context, oldest first, each with the op that wrote it."""
        (node_id,) = self.ctx.resolve_ids(kind, [node_id], None)
        out = []
        for valid_from, valid_to, change in version_positions(self.ctx.con, kind, node_id):
            (node,) = self.nodes.by_ids(kind, [node_id], valid_from)
            out.append(Version(node, valid_from, valid_to, change))
        return out

    def get_changes(self, after: int = -1, up_to: int | None = None) -> list[Change]:
        """Ops in the log positions (after, up_to]: what changed and who changed it."""
        return changes(self.ctx.con, after, up_to)

    def get_entity_changes(
        self, after: int = -1, up_to: int | None = None, *, kind: str | None = None, entity_id: int | None = None
    ) -> list[EntityChange]:
        """Every entity version written in log positions (after, up_to]: created/updated nodes and types with
        their changed fields (old and new values), added relations, each with the op, producer and time."""
        return entity_changes(self.ctx.con, after, up_to, kind=kind, entity_id=entity_id)

    def get_op(self, position: int) -> ops_pb2.Operation:
        """The op at a log position, decoded."""
        return op_at(self.ctx.con, position)

    def get_op_position(self, op_id: str) -> int | None:
        """Where the op with ``op_id`` is in the log (None: not projected): a retried op is recognized by it."""
        return op_position(self.ctx.con, op_id)

    def get_op_log(self, after: int = -1, up_to: int | None = None) -> pa.Table:
        """The op log as an Arrow table (position, op_id, payload, outcome, producer, times, rejection)."""
        return op_log(self.ctx.con, after, up_to)
