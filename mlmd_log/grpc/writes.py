"""The write half of MLMD's gRPC service: each Put* request becomes one store call with ``wait=True``.

Waiting means the answer comes after this server's own projector has applied
the op (read-your-writes for the caller and every later read through this
server), and a rejected op answers with MLMD's status code and message. With
``reuse_*`` options a reused context or artifact answers with the existing
node's id, as in MLMD (the store returns canonical ids once the op is applied).
``transaction_options`` is accepted and ignored: every op is atomic on its own.
"""

from __future__ import annotations

from typing import Any

from mlmd_log.grpc.common import HandlerBase, write_rpc
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as svc


class WriteHandlers(HandlerBase):
    """PutArtifactType ... PutLineageSubgraph."""

    # -- types -----------------------------------------------------------------------------------------

    @write_rpc
    def PutArtifactType(self, request: svc.PutArtifactTypeRequest, context: Any) -> svc.PutArtifactTypeResponse:
        type_id = self.shared.store.put_artifact_type(
            request.artifact_type, can_add_fields=request.can_add_fields,
            can_delete_fields=request.can_delete_fields, all_fields_match=request.all_fields_match,
            can_omit_fields=request.can_omit_fields, wait=True,
        )
        return svc.PutArtifactTypeResponse(type_id=type_id)

    @write_rpc
    def PutExecutionType(self, request: svc.PutExecutionTypeRequest, context: Any) -> svc.PutExecutionTypeResponse:
        type_id = self.shared.store.put_execution_type(
            request.execution_type, can_add_fields=request.can_add_fields,
            can_delete_fields=request.can_delete_fields, all_fields_match=request.all_fields_match,
            can_omit_fields=request.can_omit_fields, wait=True,
        )
        return svc.PutExecutionTypeResponse(type_id=type_id)

    @write_rpc
    def PutContextType(self, request: svc.PutContextTypeRequest, context: Any) -> svc.PutContextTypeResponse:
        type_id = self.shared.store.put_context_type(
            request.context_type, can_add_fields=request.can_add_fields,
            can_delete_fields=request.can_delete_fields, all_fields_match=request.all_fields_match,
            can_omit_fields=request.can_omit_fields, wait=True,
        )
        return svc.PutContextTypeResponse(type_id=type_id)

    @write_rpc
    def PutTypes(self, request: svc.PutTypesRequest, context: Any) -> svc.PutTypesResponse:
        return self.shared.store.put_types(request, wait=True)

    # -- nodes -----------------------------------------------------------------------------------------

    @write_rpc
    def PutArtifacts(self, request: svc.PutArtifactsRequest, context: Any) -> svc.PutArtifactsResponse:
        ids = self.shared.store.put_artifacts(request.artifacts, list(request.update_mask.paths), wait=True)
        return svc.PutArtifactsResponse(artifact_ids=ids)

    @write_rpc
    def PutExecutions(self, request: svc.PutExecutionsRequest, context: Any) -> svc.PutExecutionsResponse:
        ids = self.shared.store.put_executions(request.executions, list(request.update_mask.paths), wait=True)
        return svc.PutExecutionsResponse(execution_ids=ids)

    @write_rpc
    def PutContexts(self, request: svc.PutContextsRequest, context: Any) -> svc.PutContextsResponse:
        ids = self.shared.store.put_contexts(request.contexts, list(request.update_mask.paths), wait=True)
        return svc.PutContextsResponse(context_ids=ids)

    # -- relations -------------------------------------------------------------------------------------

    @write_rpc
    def PutEvents(self, request: svc.PutEventsRequest, context: Any) -> svc.PutEventsResponse:
        self.shared.store.put_events(request.events, wait=True)
        return svc.PutEventsResponse()

    @write_rpc
    def PutAttributionsAndAssociations(
        self, request: svc.PutAttributionsAndAssociationsRequest, context: Any
    ) -> svc.PutAttributionsAndAssociationsResponse:
        self.shared.store.put_attributions_and_associations(request.attributions, request.associations, wait=True)
        return svc.PutAttributionsAndAssociationsResponse()

    @write_rpc
    def PutParentContexts(self, request: svc.PutParentContextsRequest, context: Any) -> svc.PutParentContextsResponse:
        self.shared.store.put_parent_contexts(request.parent_contexts, wait=True)
        return svc.PutParentContextsResponse()

    # -- composite writes ------------------------------------------------------------------------------

    @write_rpc
    def PutExecution(self, request: svc.PutExecutionRequest, context: Any) -> svc.PutExecutionResponse:
        pairs = [
            (pair.artifact if pair.HasField("artifact") else None, pair.event if pair.HasField("event") else None)
            for pair in request.artifact_event_pairs
        ]
        options = request.options
        execution_id, artifact_ids, context_ids = self.shared.store.put_execution(
            request.execution, pairs, list(request.contexts),
            reuse_context_if_already_exist=options.reuse_context_if_already_exist,
            reuse_artifact_if_already_exist_by_external_id=options.reuse_artifact_if_already_exist_by_external_id,
            force_reuse_context=options.force_reuse_context,
            force_update_time=options.force_update_time,
            wait=True,
        )
        return svc.PutExecutionResponse(
            execution_id=execution_id, artifact_ids=artifact_ids, context_ids=context_ids
        )

    @write_rpc
    def PutLineageSubgraph(
        self, request: svc.PutLineageSubgraphRequest, context: Any
    ) -> svc.PutLineageSubgraphResponse:
        edges = [
            (
                edge.execution_index if edge.HasField("execution_index") else None,
                edge.artifact_index if edge.HasField("artifact_index") else None,
                edge.event,
            )
            for edge in request.event_edges
        ]
        options = request.options
        execution_ids, artifact_ids, context_ids = self.shared.store.put_lineage_subgraph(
            request.executions, request.artifacts, request.contexts, edges,
            reuse_context_if_already_exist=options.reuse_context_if_already_exist,
            reuse_artifact_if_already_exist_by_external_id=options.reuse_artifact_if_already_exist_by_external_id,
            wait=True,
        )
        return svc.PutLineageSubgraphResponse(
            execution_ids=execution_ids, artifact_ids=artifact_ids, context_ids=context_ids
        )
