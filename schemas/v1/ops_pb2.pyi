from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as _metadata_store_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProducerIdentity(_message.Message):
    __slots__ = ("team", "service", "host", "user", "client_version", "session_id")
    TEAM_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    team: str
    service: str
    host: str
    user: str
    client_version: str
    session_id: str
    def __init__(self, team: _Optional[str] = ..., service: _Optional[str] = ..., host: _Optional[str] = ..., user: _Optional[str] = ..., client_version: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class LeaseIds(_message.Message):
    __slots__ = ("block_size",)
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    block_size: int
    def __init__(self, block_size: _Optional[int] = ...) -> None: ...

class AssignedIds(_message.Message):
    __slots__ = ("artifact_ids", "execution_ids", "context_ids", "type_ids")
    ARTIFACT_IDS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_IDS_FIELD_NUMBER: _ClassVar[int]
    TYPE_IDS_FIELD_NUMBER: _ClassVar[int]
    artifact_ids: _containers.RepeatedScalarFieldContainer[int]
    execution_ids: _containers.RepeatedScalarFieldContainer[int]
    context_ids: _containers.RepeatedScalarFieldContainer[int]
    type_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, artifact_ids: _Optional[_Iterable[int]] = ..., execution_ids: _Optional[_Iterable[int]] = ..., context_ids: _Optional[_Iterable[int]] = ..., type_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ImportedFrom(_message.Message):
    __slots__ = ("store_id", "table", "first_row", "rows", "source_kind")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    FIRST_ROW_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    table: str
    first_row: int
    rows: int
    source_kind: str
    def __init__(self, store_id: _Optional[str] = ..., table: _Optional[str] = ..., first_row: _Optional[int] = ..., rows: _Optional[int] = ..., source_kind: _Optional[str] = ...) -> None: ...

class Operation(_message.Message):
    __slots__ = ("op_id", "producer", "client_time_ms", "schema_version", "assigned_ids", "imported", "lease_ids", "put_artifact_type", "put_execution_type", "put_context_type", "put_types", "put_artifacts", "put_executions", "put_contexts", "put_events", "put_execution", "put_lineage_subgraph", "put_attributions_and_associations", "put_parent_contexts")
    OP_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_IDS_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    LEASE_IDS_FIELD_NUMBER: _ClassVar[int]
    PUT_ARTIFACT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PUT_EXECUTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    PUT_CONTEXT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PUT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PUT_ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    PUT_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    PUT_CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    PUT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    PUT_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    PUT_LINEAGE_SUBGRAPH_FIELD_NUMBER: _ClassVar[int]
    PUT_ATTRIBUTIONS_AND_ASSOCIATIONS_FIELD_NUMBER: _ClassVar[int]
    PUT_PARENT_CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    op_id: str
    producer: ProducerIdentity
    client_time_ms: int
    schema_version: int
    assigned_ids: AssignedIds
    imported: ImportedFrom
    lease_ids: LeaseIds
    put_artifact_type: _metadata_store_service_pb2.PutArtifactTypeRequest
    put_execution_type: _metadata_store_service_pb2.PutExecutionTypeRequest
    put_context_type: _metadata_store_service_pb2.PutContextTypeRequest
    put_types: _metadata_store_service_pb2.PutTypesRequest
    put_artifacts: _metadata_store_service_pb2.PutArtifactsRequest
    put_executions: _metadata_store_service_pb2.PutExecutionsRequest
    put_contexts: _metadata_store_service_pb2.PutContextsRequest
    put_events: _metadata_store_service_pb2.PutEventsRequest
    put_execution: _metadata_store_service_pb2.PutExecutionRequest
    put_lineage_subgraph: _metadata_store_service_pb2.PutLineageSubgraphRequest
    put_attributions_and_associations: _metadata_store_service_pb2.PutAttributionsAndAssociationsRequest
    put_parent_contexts: _metadata_store_service_pb2.PutParentContextsRequest
    def __init__(self, op_id: _Optional[str] = ..., producer: _Optional[_Union[ProducerIdentity, _Mapping]] = ..., client_time_ms: _Optional[int] = ..., schema_version: _Optional[int] = ..., assigned_ids: _Optional[_Union[AssignedIds, _Mapping]] = ..., imported: _Optional[_Union[ImportedFrom, _Mapping]] = ..., lease_ids: _Optional[_Union[LeaseIds, _Mapping]] = ..., put_artifact_type: _Optional[_Union[_metadata_store_service_pb2.PutArtifactTypeRequest, _Mapping]] = ..., put_execution_type: _Optional[_Union[_metadata_store_service_pb2.PutExecutionTypeRequest, _Mapping]] = ..., put_context_type: _Optional[_Union[_metadata_store_service_pb2.PutContextTypeRequest, _Mapping]] = ..., put_types: _Optional[_Union[_metadata_store_service_pb2.PutTypesRequest, _Mapping]] = ..., put_artifacts: _Optional[_Union[_metadata_store_service_pb2.PutArtifactsRequest, _Mapping]] = ..., put_executions: _Optional[_Union[_metadata_store_service_pb2.PutExecutionsRequest, _Mapping]] = ..., put_contexts: _Optional[_Union[_metadata_store_service_pb2.PutContextsRequest, _Mapping]] = ..., put_events: _Optional[_Union[_metadata_store_service_pb2.PutEventsRequest, _Mapping]] = ..., put_execution: _Optional[_Union[_metadata_store_service_pb2.PutExecutionRequest, _Mapping]] = ..., put_lineage_subgraph: _Optional[_Union[_metadata_store_service_pb2.PutLineageSubgraphRequest, _Mapping]] = ..., put_attributions_and_associations: _Optional[_Union[_metadata_store_service_pb2.PutAttributionsAndAssociationsRequest, _Mapping]] = ..., put_parent_contexts: _Optional[_Union[_metadata_store_service_pb2.PutParentContextsRequest, _Mapping]] = ...) -> None: ...
