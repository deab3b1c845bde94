"""The read half of MLMD's gRPC service, served from this thread's Reader over the DuckDB projection.

Listings follow MLMD: a request without ``options`` gets every node in one
answer; with options it gets one page (``max_result_size``, default 20, capped
at 100) and a ``next_page_token`` while more remain. Tokens pin the log
position of the first page, so pages neither repeat nor skip rows written
meanwhile. Reads never wait for the projector: they see what it has applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeVar

from mlmd_log.errors import UnimplementedError
from mlmd_log.grpc.common import HandlerBase, list_options, read_rpc, type_version
from mlmd_log.query.reader import Reader
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as svc

_ATTRIBUTIONS: Final = (
    "SELECT artifact_id, context_id FROM attribution_versions WHERE valid_from <= ? "
    "AND (valid_to IS NULL OR valid_to > ?) AND artifact_id IN (SELECT unnest(?::BIGINT[])) "
    "ORDER BY artifact_id, context_id"
)
_ASSOCIATIONS: Final = (
    "SELECT execution_id, context_id FROM association_versions WHERE valid_from <= ? "
    "AND (valid_to IS NULL OR valid_to > ?) AND execution_id IN (SELECT unnest(?::BIGINT[])) "
    "ORDER BY execution_id, context_id"
)
_GRAPH_FIELDS: Final = tuple(f.name for f in mlmd.LineageGraph.DESCRIPTOR.fields)

M = TypeVar("M")


class ReadHandlers(HandlerBase):
    """GetArtifactType ... GetLineageSubgraph."""

    def _reader(self) -> Reader:
        return self.shared.reader()

    def _list(self, kind: str, request: Any, response: M, field: str) -> M:
        options, token = list_options(request)
        reader = self._reader()
        if options is None:
            getattr(response, field).extend(getattr(reader, f"get_{kind}s")())
            return response
        nodes, next_token = reader.get_nodes_page(kind, options, token)
        return _page_response(response, field, nodes, next_token)

    def _list_by_type(self, kind: str, request: Any, response: M, field: str) -> M:
        options, token = list_options(request)
        reader, version = self._reader(), type_version(request)
        if options is None:
            getattr(response, field).extend(getattr(reader, f"get_{kind}s_by_type")(request.type_name, version))
            return response
        nodes, next_token = reader.get_nodes_by_type_page(kind, request.type_name, version, options, token)
        return _page_response(response, field, nodes, next_token)

    def _list_by_context(self, kind: str, request: Any, response: M, field: str) -> M:
        options, token = list_options(request)
        reader = self._reader()
        if options is None:
            getattr(response, field).extend(getattr(reader, f"get_{kind}s_by_context")(request.context_id))
            return response
        nodes, next_token = reader.get_nodes_by_context_page(kind, request.context_id, options, token)
        return _page_response(response, field, nodes, next_token)

    # -- types -----------------------------------------------------------------------------------------

    @read_rpc
    def GetArtifactType(self, request: svc.GetArtifactTypeRequest, context: Any) -> svc.GetArtifactTypeResponse:
        found = self._reader().get_artifact_type(request.type_name, type_version(request))
        return svc.GetArtifactTypeResponse(artifact_type=found)

    @read_rpc
    def GetExecutionType(self, request: svc.GetExecutionTypeRequest, context: Any) -> svc.GetExecutionTypeResponse:
        found = self._reader().get_execution_type(request.type_name, type_version(request))
        return svc.GetExecutionTypeResponse(execution_type=found)

    @read_rpc
    def GetContextType(self, request: svc.GetContextTypeRequest, context: Any) -> svc.GetContextTypeResponse:
        found = self._reader().get_context_type(request.type_name, type_version(request))
        return svc.GetContextTypeResponse(context_type=found)

    @read_rpc
    def GetArtifactTypes(self, request: svc.GetArtifactTypesRequest, context: Any) -> svc.GetArtifactTypesResponse:
        return svc.GetArtifactTypesResponse(artifact_types=self._reader().get_artifact_types())

    @read_rpc
    def GetExecutionTypes(
        self, request: svc.GetExecutionTypesRequest, context: Any
    ) -> svc.GetExecutionTypesResponse:
        return svc.GetExecutionTypesResponse(execution_types=self._reader().get_execution_types())

    @read_rpc
    def GetContextTypes(self, request: svc.GetContextTypesRequest, context: Any) -> svc.GetContextTypesResponse:
        return svc.GetContextTypesResponse(context_types=self._reader().get_context_types())

    @read_rpc
    def GetArtifactTypesByID(
        self, request: svc.GetArtifactTypesByIDRequest, context: Any
    ) -> svc.GetArtifactTypesByIDResponse:
        found = self._reader().get_artifact_types_by_id(list(request.type_ids))
        return svc.GetArtifactTypesByIDResponse(artifact_types=found)

    @read_rpc
    def GetExecutionTypesByID(
        self, request: svc.GetExecutionTypesByIDRequest, context: Any
    ) -> svc.GetExecutionTypesByIDResponse:
        found = self._reader().get_execution_types_by_id(list(request.type_ids))
        return svc.GetExecutionTypesByIDResponse(execution_types=found)

    @read_rpc
    def GetContextTypesByID(
        self, request: svc.GetContextTypesByIDRequest, context: Any
    ) -> svc.GetContextTypesByIDResponse:
        found = self._reader().get_context_types_by_id(list(request.type_ids))
        return svc.GetContextTypesByIDResponse(context_types=found)

    @read_rpc
    def GetArtifactTypesByExternalIds(
        self, request: svc.GetArtifactTypesByExternalIdsRequest, context: Any
    ) -> svc.GetArtifactTypesByExternalIdsResponse:
        found = self._reader().get_artifact_types_by_external_ids(list(request.external_ids))
        return svc.GetArtifactTypesByExternalIdsResponse(artifact_types=found)

    @read_rpc
    def GetExecutionTypesByExternalIds(
        self, request: svc.GetExecutionTypesByExternalIdsRequest, context: Any
    ) -> svc.GetExecutionTypesByExternalIdsResponse:
        found = self._reader().get_execution_types_by_external_ids(list(request.external_ids))
        return svc.GetExecutionTypesByExternalIdsResponse(execution_types=found)

    @read_rpc
    def GetContextTypesByExternalIds(
        self, request: svc.GetContextTypesByExternalIdsRequest, context: Any
    ) -> svc.GetContextTypesByExternalIdsResponse:
        found = self._reader().get_context_types_by_external_ids(list(request.external_ids))
        return svc.GetContextTypesByExternalIdsResponse(context_types=found)

    # -- listings --------------------------------------------------------------------------------------

    @read_rpc
    def GetArtifacts(self, request: svc.GetArtifactsRequest, context: Any) -> svc.GetArtifactsResponse:
        return self._list("artifact", request, svc.GetArtifactsResponse(), "artifacts")

    @read_rpc
    def GetExecutions(self, request: svc.GetExecutionsRequest, context: Any) -> svc.GetExecutionsResponse:
        return self._list("execution", request, svc.GetExecutionsResponse(), "executions")

    @read_rpc
    def GetContexts(self, request: svc.GetContextsRequest, context: Any) -> svc.GetContextsResponse:
        return self._list("context", request, svc.GetContextsResponse(), "contexts")

    @read_rpc
    def GetArtifactsByType(
        self, request: svc.GetArtifactsByTypeRequest, context: Any
    ) -> svc.GetArtifactsByTypeResponse:
        return self._list_by_type("artifact", request, svc.GetArtifactsByTypeResponse(), "artifacts")

    @read_rpc
    def GetExecutionsByType(
        self, request: svc.GetExecutionsByTypeRequest, context: Any
    ) -> svc.GetExecutionsByTypeResponse:
        return self._list_by_type("execution", request, svc.GetExecutionsByTypeResponse(), "executions")

    @read_rpc
    def GetContextsByType(self, request: svc.GetContextsByTypeRequest, context: Any) -> svc.GetContextsByTypeResponse:
        return self._list_by_type("context", request, svc.GetContextsByTypeResponse(), "contexts")

    @read_rpc
    def GetArtifactsByContext(
        self, request: svc.GetArtifactsByContextRequest, context: Any
    ) -> svc.GetArtifactsByContextResponse:
        return self._list_by_context("artifact", request, svc.GetArtifactsByContextResponse(), "artifacts")

    @read_rpc
    def GetExecutionsByContext(
        self, request: svc.GetExecutionsByContextRequest, context: Any
    ) -> svc.GetExecutionsByContextResponse:
        return self._list_by_context("execution", request, svc.GetExecutionsByContextResponse(), "executions")

    # -- point reads -----------------------------------------------------------------------------------

    @read_rpc
    def GetArtifactsByID(self, request: svc.GetArtifactsByIDRequest, context: Any) -> svc.GetArtifactsByIDResponse:
        reader = self._reader()
        artifacts = reader.get_artifacts_by_id(list(request.artifact_ids))
        response = svc.GetArtifactsByIDResponse(artifacts=artifacts)
        if request.populate_artifact_types and artifacts:
            response.artifact_types.extend(reader.get_artifact_types_by_id(sorted({a.type_id for a in artifacts})))
        return response

    @read_rpc
    def GetExecutionsByID(self, request: svc.GetExecutionsByIDRequest, context: Any) -> svc.GetExecutionsByIDResponse:
        return svc.GetExecutionsByIDResponse(executions=self._reader().get_executions_by_id(list(request.execution_ids)))

    @read_rpc
    def GetContextsByID(self, request: svc.GetContextsByIDRequest, context: Any) -> svc.GetContextsByIDResponse:
        return svc.GetContextsByIDResponse(contexts=self._reader().get_contexts_by_id(list(request.context_ids)))

    @read_rpc
    def GetArtifactByTypeAndName(
        self, request: svc.GetArtifactByTypeAndNameRequest, context: Any
    ) -> svc.GetArtifactByTypeAndNameResponse:
        found = self._reader().get_artifact_by_type_and_name(
            request.type_name, request.artifact_name, type_version(request)
        )
        return svc.GetArtifactByTypeAndNameResponse(artifact=found)

    @read_rpc
    def GetExecutionByTypeAndName(
        self, request: svc.GetExecutionByTypeAndNameRequest, context: Any
    ) -> svc.GetExecutionByTypeAndNameResponse:
        found = self._reader().get_execution_by_type_and_name(
            request.type_name, request.execution_name, type_version(request)
        )
        return svc.GetExecutionByTypeAndNameResponse(execution=found)

    @read_rpc
    def GetContextByTypeAndName(
        self, request: svc.GetContextByTypeAndNameRequest, context: Any
    ) -> svc.GetContextByTypeAndNameResponse:
        found = self._reader().get_context_by_type_and_name(
            request.type_name, request.context_name, type_version(request)
        )
        return svc.GetContextByTypeAndNameResponse(context=found)

    @read_rpc
    def GetArtifactsByURI(self, request: svc.GetArtifactsByURIRequest, context: Any) -> svc.GetArtifactsByURIResponse:
        reader = self._reader()
        response = svc.GetArtifactsByURIResponse()
        for uri in dict.fromkeys(request.uris):  # MLMD looks each distinct uri up once
            response.artifacts.extend(reader.get_artifacts_by_uri(uri))
        return response

    @read_rpc
    def GetArtifactsByExternalIds(
        self, request: svc.GetArtifactsByExternalIdsRequest, context: Any
    ) -> svc.GetArtifactsByExternalIdsResponse:
        found = self._reader().get_artifacts_by_external_ids(list(request.external_ids))
        return svc.GetArtifactsByExternalIdsResponse(artifacts=found)

    @read_rpc
    def GetExecutionsByExternalIds(
        self, request: svc.GetExecutionsByExternalIdsRequest, context: Any
    ) -> svc.GetExecutionsByExternalIdsResponse:
        found = self._reader().get_executions_by_external_ids(list(request.external_ids))
        return svc.GetExecutionsByExternalIdsResponse(executions=found)

    @read_rpc
    def GetContextsByExternalIds(
        self, request: svc.GetContextsByExternalIdsRequest, context: Any
    ) -> svc.GetContextsByExternalIdsResponse:
        found = self._reader().get_contexts_by_external_ids(list(request.external_ids))
        return svc.GetContextsByExternalIdsResponse(contexts=found)

    # -- relations -------------------------------------------------------------------------------------

    @read_rpc
    def GetEventsByExecutionIDs(
        self, request: svc.GetEventsByExecutionIDsRequest, context: Any
    ) -> svc.GetEventsByExecutionIDsResponse:
        found = self._reader().get_events_by_execution_ids(list(request.execution_ids))
        return svc.GetEventsByExecutionIDsResponse(events=found)

    @read_rpc
    def GetEventsByArtifactIDs(
        self, request: svc.GetEventsByArtifactIDsRequest, context: Any
    ) -> svc.GetEventsByArtifactIDsResponse:
        found = self._reader().get_events_by_artifact_ids(list(request.artifact_ids))
        return svc.GetEventsByArtifactIDsResponse(events=found)

    @read_rpc
    def GetContextsByArtifact(
        self, request: svc.GetContextsByArtifactRequest, context: Any
    ) -> svc.GetContextsByArtifactResponse:
        return svc.GetContextsByArtifactResponse(contexts=self._reader().get_contexts_by_artifact(request.artifact_id))

    @read_rpc
    def GetContextsByExecution(
        self, request: svc.GetContextsByExecutionRequest, context: Any
    ) -> svc.GetContextsByExecutionResponse:
        found = self._reader().get_contexts_by_execution(request.execution_id)
        return svc.GetContextsByExecutionResponse(contexts=found)

    @read_rpc
    def GetParentContextsByContext(
        self, request: svc.GetParentContextsByContextRequest, context: Any
    ) -> svc.GetParentContextsByContextResponse:
        found = self._reader().get_parent_contexts_by_context(request.context_id)
        return svc.GetParentContextsByContextResponse(contexts=found)

    @read_rpc
    def GetChildrenContextsByContext(
        self, request: svc.GetChildrenContextsByContextRequest, context: Any
    ) -> svc.GetChildrenContextsByContextResponse:
        found = self._reader().get_children_contexts_by_context(request.context_id)
        return svc.GetChildrenContextsByContextResponse(contexts=found)

    @read_rpc
    def GetParentContextsByContexts(
        self, request: svc.GetParentContextsByContextsRequest, context: Any
    ) -> svc.GetParentContextsByContextsResponse:
        response = svc.GetParentContextsByContextsResponse()
        for child, parents in self._reader().get_parent_contexts_by_contexts(list(request.context_ids)).items():
            response.contexts[child].parent_contexts.extend(parents)
        return response

    @read_rpc
    def GetChildrenContextsByContexts(
        self, request: svc.GetChildrenContextsByContextsRequest, context: Any
    ) -> svc.GetChildrenContextsByContextsResponse:
        response = svc.GetChildrenContextsByContextsResponse()
        for parent, children in self._reader().get_children_contexts_by_contexts(list(request.context_ids)).items():
            response.contexts[parent].children_contexts.extend(children)
        return response

    # -- lineage ---------------------------------------------------------------------------------------

    @read_rpc
    def GetLineageSubgraph(
        self, request: svc.GetLineageSubgraphRequest, context: Any
    ) -> svc.GetLineageSubgraphResponse:
        """MLMD's lineage subgraph; ``read_mask`` picks LineageGraph fields (empty: all of them)."""
        reader = self._reader()
        wanted = set(request.read_mask.paths) or set(_GRAPH_FIELDS)
        relations = wanted & {"attributions", "associations"}
        fetch = sorted(wanted | ({"artifacts", "executions"} if relations else set()))
        position = reader.log_position()  # one snapshot for the graph and its relations
        graph = reader.get_lineage_subgraph(request.lineage_subgraph_query_options, fetch, as_of=position)
        if "attributions" in wanted:
            ids = [a.id for a in graph.artifacts]
            for artifact_id, context_id in _rows(reader, _ATTRIBUTIONS, [position, position, ids]):
                graph.attributions.add(artifact_id=artifact_id, context_id=context_id)
        if "associations" in wanted:
            ids = [e.id for e in graph.executions]
            for execution_id, context_id in _rows(reader, _ASSOCIATIONS, [position, position, ids]):
                graph.associations.add(execution_id=execution_id, context_id=context_id)
        for name in ("artifacts", "executions"):
            if name not in wanted:
                graph.ClearField(name)
        return svc.GetLineageSubgraphResponse(lineage_subgraph=graph)

    @read_rpc
    def GetLineageGraph(self, request: svc.GetLineageGraphRequest, context: Any) -> svc.GetLineageGraphResponse:
        """Deprecated in MLMD and not served: its boundary semantics have no faithful mapping here."""
        raise UnimplementedError(
            "GetLineageGraph is deprecated in MLMD and not served by mlmd-log; use GetLineageSubgraph "
            "(LineageSubgraphQueryOptions: starting_artifacts or starting_executions, max_num_hops, direction)"
        )


def _page_response(response: M, field: str, nodes: Sequence[Any], next_token: str | None) -> M:
    getattr(response, field).extend(nodes)
    if next_token:
        setattr(response, "next_page_token", next_token)  # noqa: B010  # every paged response has the field
    return response


def _rows(reader: Reader, query: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Rows of a read-only query over the documented tables (through :meth:`Reader.sql`)."""
    table = reader.sql(query, params)
    return list(zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True))
