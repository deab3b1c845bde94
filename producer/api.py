"""MLMD's write API: each call becomes one immutable :class:`Operation` appended to the log.

Signatures follow ``ml_metadata.metadata_store.MetadataStore``; ids come back
at once from leased blocks (ADR 0001). Input that can never be valid raises
MLMD's error before anything is appended. ``wait=True`` on any call blocks
until that op is projected and raises its rejection, as MLMD would.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from typing import Any

from mlmd_log import __version__
from mlmd_log.errors import OpTooLargeError
from mlmd_log.ids import ID_BLOCK_SIZE
from mlmd_log.producer.acting import ACTING
from mlmd_log.producer.ids import IdAllocator
from mlmd_log.producer.log import OpLog, Receipt
from mlmd_log.schemas.checks import check_edges, check_event, check_new_nodes, check_type
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as svc
from mlmd_log.schemas.v1 import ops_pb2
from mlmd_log.settings import Settings

#: The envelope version this producer writes.
OP_SCHEMA_VERSION = 1


class Producer:
    """Appends MLMD write calls to ``log`` as ops stamped with this process's identity."""

    def __init__(self, log: OpLog, settings: Settings, clock_ms: Any = None) -> None:
        import time

        self._log = log
        self._settings = settings
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._identity = ops_pb2.ProducerIdentity(
            team=settings.team, service=settings.service, host=settings.host, user=settings.user,
            client_version=f"mlmd-log {__version__}", session_id=uuid.uuid4().hex,
        )
        self._ids = IdAllocator(self._lease)
        # Every op carries the same identity and schema version: encode them once. Protobuf messages
        # concatenate, so an op is encoded as (op_id, client time) + this stamp + the payload.
        self._stamp = ops_pb2.Operation(producer=self._identity, schema_version=OP_SCHEMA_VERSION).SerializeToString()
        # Op ids: RFC 4122 text, a random 80-bit session prefix and a 48-bit counter (no syscall per op).
        self._op_prefix = str(uuid.uuid4())[:24]
        self._op_seq = itertools.count()

    @property
    def session_id(self) -> str:
        return self._identity.session_id

    # -- plumbing ---------------------------------------------------------------------------------------

    def _envelope(self) -> ops_pb2.Operation:
        """An op for a call's payload; the envelope fields are added when it is encoded (:meth:`_encode`)."""
        return ops_pb2.Operation()

    def _encode(self, op: ops_pb2.Operation, *, lease: bool = False) -> tuple[str, bytes]:
        acting = ACTING.get()
        given = acting.next_op_id() if acting is not None and not lease else None
        op_id = given or f"{self._op_prefix}{next(self._op_seq) & 0xFFFFFFFFFFFF:012x}"
        head = ops_pb2.Operation(op_id=op_id, client_time_ms=self._clock_ms()).SerializeToString()
        stamp = self._stamp
        if acting is not None and acting.principal is not None:
            # A server appending for an authenticated client: the op names that client (producer/acting.py).
            identity = ops_pb2.ProducerIdentity()
            identity.CopyFrom(self._identity)
            identity.user = acting.principal
            stamp = ops_pb2.Operation(producer=identity, schema_version=OP_SCHEMA_VERSION).SerializeToString()
        return op_id, head + stamp + op.SerializeToString()

    def _lease(self) -> int:
        op = self._envelope()
        op.lease_ids.block_size = ID_BLOCK_SIZE
        return self._log.lease(*self._encode(op, lease=True))

    def _append(self, op: ops_pb2.Operation, call: str, wait: bool) -> Receipt:
        op_id, data = self._encode(op)
        if len(data) > self._settings.max_op_bytes:
            raise OpTooLargeError(
                f"{call}: the op encodes to {len(data):,} bytes, over the limit of "
                f"{self._settings.max_op_bytes:,} (MLMD_LOG_MAX_OP_BYTES); split the call into smaller batches"
            )
        return self._log.append(op_id, data, wait=wait)

    def _assign(self, op: ops_pb2.Operation, kind: str, msgs: Sequence[Any]) -> list[int]:
        """Ids for ``msgs`` in input order: given ids for updates, fresh ids (recorded in the op) for new nodes."""
        given = [m.id if m.HasField("id") else None for m in msgs]
        new = given.count(None)
        if not new:
            return given  # type: ignore[return-value]  # every entry is an int here
        fresh = self._ids.take(new)
        getattr(op.assigned_ids, f"{kind}_ids").extend(fresh)
        if new == len(given):
            return fresh
        it = iter(fresh)
        return [next(it) if g is None else g for g in given]

    # -- types ------------------------------------------------------------------------------------------

    def _put_type(self, kind: str, msg: Any, can_add_fields: bool, can_omit_fields: bool, wait: bool) -> int:
        check_type(msg)
        op = self._envelope()
        request = getattr(op, f"put_{kind}_type")
        getattr(request, f"{kind}_type").CopyFrom(msg)
        request.can_add_fields = can_add_fields
        request.can_omit_fields = can_omit_fields
        # The projector numbers new types in log order (ADR 0001): the id is known once the op is decided.
        self._append(op, f"put_{kind}_type", True)
        (type_id,) = self._log.type_ids([(kind, msg.name, msg.version if msg.HasField("version") else None)])
        return type_id

    def put_artifact_type(
        self, artifact_type: mlmd.ArtifactType, can_add_fields: bool = False, can_delete_fields: bool = False,
        all_fields_match: bool = True, can_omit_fields: bool = False, *, wait: bool = False,
    ) -> int:
        return self._put_type("artifact", artifact_type, can_add_fields, can_omit_fields, wait)

    def put_execution_type(
        self, execution_type: mlmd.ExecutionType, can_add_fields: bool = False, can_delete_fields: bool = False,
        all_fields_match: bool = True, can_omit_fields: bool = False, *, wait: bool = False,
    ) -> int:
        return self._put_type("execution", execution_type, can_add_fields, can_omit_fields, wait)

    def put_context_type(
        self, context_type: mlmd.ContextType, can_add_fields: bool = False, can_delete_fields: bool = False,
        all_fields_match: bool = True, can_omit_fields: bool = False, *, wait: bool = False,
    ) -> int:
        return self._put_type("context", context_type, can_add_fields, can_omit_fields, wait)

    # -- nodes ------------------------------------------------------------------------------------------

    def _put_nodes(self, kind: str, msgs: Sequence[Any], field_mask_paths: Sequence[str] | None, wait: bool) -> list[int]:
        check_new_nodes(kind, msgs)
        op = self._envelope()
        request = getattr(op, f"put_{kind}s")
        getattr(request, f"{kind}s").extend(msgs)
        if field_mask_paths:
            request.update_mask.paths.extend(field_mask_paths)
        ids = self._assign(op, kind, msgs)
        self._append(op, f"put_{kind}s", wait)
        return ids

    def put_artifacts(
        self, artifacts: Sequence[mlmd.Artifact], field_mask_paths: Sequence[str] | None = None, *, wait: bool = False
    ) -> list[int]:
        return self._put_nodes("artifact", artifacts, field_mask_paths, wait)

    def put_executions(
        self, executions: Sequence[mlmd.Execution], field_mask_paths: Sequence[str] | None = None, *, wait: bool = False
    ) -> list[int]:
        return self._put_nodes("execution", executions, field_mask_paths, wait)

    def put_contexts(
        self, contexts: Sequence[mlmd.Context], field_mask_paths: Sequence[str] | None = None, *, wait: bool = False
    ) -> list[int]:
        return self._put_nodes("context", contexts, field_mask_paths, wait)

    # -- relations --------------------------------------------------------------------------------------

    def put_events(self, events: Sequence[mlmd.Event], *, wait: bool = False) -> None:
        for event in events:
            check_event(event)
        op = self._envelope()
        op.put_events.events.extend(events)
        self._append(op, "put_events", wait)

    def put_attributions_and_associations(
        self, attributions: Sequence[mlmd.Attribution], associations: Sequence[mlmd.Association], *, wait: bool = False
    ) -> None:
        op = self._envelope()
        op.put_attributions_and_associations.attributions.extend(attributions)
        op.put_attributions_and_associations.associations.extend(associations)
        self._append(op, "put_attributions_and_associations", wait)

    def put_parent_contexts(self, parent_contexts: Sequence[mlmd.ParentContext], *, wait: bool = False) -> None:
        op = self._envelope()
        op.put_parent_contexts.parent_contexts.extend(parent_contexts)
        self._append(op, "put_parent_contexts", wait)

    # -- composite writes ------------------------------------------------------------------------------

    def put_execution(
        self,
        execution: mlmd.Execution,
        artifact_and_events: Sequence[tuple[mlmd.Artifact, mlmd.Event | None]],
        contexts: Sequence[mlmd.Context] | None,
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
        force_reuse_context: bool = False,
        force_update_time: bool = False,
        *,
        wait: bool = False,
    ) -> tuple[int, list[int], list[int]]:
        """Execution, its artifacts with their events, and its contexts, in one atomic op."""
        contexts = list(contexts or [])
        artifacts = [a for a, _ in artifact_and_events if a is not None]
        check_new_nodes("execution", [execution])
        check_new_nodes("artifact", artifacts)
        check_new_nodes("context", contexts)
        for _, event in artifact_and_events:
            if event is not None:
                check_event(event, needs_artifact=False, needs_execution=False)
        op = self._envelope()
        request = op.put_execution
        request.execution.CopyFrom(execution)
        for artifact, event in artifact_and_events:
            pair = request.artifact_event_pairs.add()
            if artifact is not None:
                pair.artifact.CopyFrom(artifact)
            if event is not None:
                pair.event.CopyFrom(event)
        request.contexts.extend(contexts)
        options = request.options
        options.reuse_context_if_already_exist = reuse_context_if_already_exist
        options.reuse_artifact_if_already_exist_by_external_id = reuse_artifact_if_already_exist_by_external_id
        options.force_reuse_context = force_reuse_context
        options.force_update_time = force_update_time
        (execution_id,) = self._assign(op, "execution", [execution])
        artifact_ids = self._assign(op, "artifact", artifacts)
        context_ids = self._assign(op, "context", contexts)
        self._append(op, "put_execution", wait)
        return execution_id, artifact_ids, context_ids

    def put_lineage_subgraph(
        self,
        executions: Sequence[mlmd.Execution],
        artifacts: Sequence[mlmd.Artifact],
        contexts: Sequence[mlmd.Context],
        event_edges: Sequence[tuple[int | None, int | None, mlmd.Event]],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
        *,
        wait: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """A whole subgraph (nodes, events by index, context links) in one atomic op."""
        op = self._envelope()
        request = op.put_lineage_subgraph
        request.executions.extend(executions)
        request.artifacts.extend(artifacts)
        request.contexts.extend(contexts)
        for execution_index, artifact_index, event in event_edges:
            edge = request.event_edges.add()
            if execution_index is not None:
                edge.execution_index = execution_index
            if artifact_index is not None:
                edge.artifact_index = artifact_index
            edge.event.CopyFrom(event)
        check_new_nodes("execution", executions)
        check_new_nodes("artifact", artifacts)
        check_new_nodes("context", contexts)
        check_edges(request.event_edges, len(executions), len(artifacts))
        request.options.reuse_context_if_already_exist = reuse_context_if_already_exist
        request.options.reuse_artifact_if_already_exist_by_external_id = reuse_artifact_if_already_exist_by_external_id
        execution_ids = self._assign(op, "execution", executions)
        artifact_ids = self._assign(op, "artifact", artifacts)
        context_ids = self._assign(op, "context", contexts)
        self._append(op, "put_lineage_subgraph", wait)
        return execution_ids, artifact_ids, context_ids

    def put_types(self, request: svc.PutTypesRequest, *, wait: bool = False) -> svc.PutTypesResponse:
        """MLMD's PutTypes: several types in one atomic op."""
        response = svc.PutTypesResponse()
        op = self._envelope()
        op.put_types.CopyFrom(request)
        groups = (
            ("artifact", request.artifact_types, response.artifact_type_ids),
            ("execution", request.execution_types, response.execution_type_ids),
            ("context", request.context_types, response.context_type_ids),
        )
        keys = []
        for kind, msgs, _ in groups:
            for msg in msgs:
                check_type(msg)
                keys.append((kind, msg.name, msg.version if msg.HasField("version") else None))
        self._append(op, "put_types", True)
        ids = iter(self._log.type_ids(keys))
        for _, msgs, out in groups:
            out.extend(next(ids) for _ in msgs)
        return response

    # -- delivery ---------------------------------------------------------------------------------------

    def sync(self, timeout: float | None = None) -> None:
        """Block until this producer's ops are acknowledged (and projected, where there is a projection)."""
        self._log.sync(timeout)

    def close(self, timeout: float | None = None) -> None:
        self._log.close(timeout)
