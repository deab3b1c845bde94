"""The committed protobuf modules are current, and they describe MLMD's packages, messages and service."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pool

from mlmd_log.proto import metadata_store_pb2, metadata_store_service_pb2, metadata_store_service_pb2_grpc
from mlmd_log.schemas import generate as generator
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as generated_model
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as generated_service
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2_grpc as generated_grpc
from mlmd_log.schemas.v1 import ops_pb2

# MLMD 1.17.1's MetadataStoreService, in declaration order; each rpc takes <Name>Request, returns <Name>Response.
MLMD_RPCS = [
    "PutArtifactType", "PutExecutionType", "PutContextType", "PutTypes", "PutArtifacts", "PutExecutions",
    "PutEvents", "PutExecution", "PutLineageSubgraph", "PutContexts", "PutAttributionsAndAssociations",
    "PutParentContexts", "GetArtifactType", "GetArtifactTypesByID", "GetArtifactTypes", "GetExecutionType",
    "GetExecutionTypesByID", "GetExecutionTypes", "GetContextType", "GetContextTypesByID", "GetContextTypes",
    "GetArtifacts", "GetExecutions", "GetContexts", "GetArtifactsByID", "GetExecutionsByID", "GetContextsByID",
    "GetArtifactsByType", "GetExecutionsByType", "GetContextsByType", "GetArtifactByTypeAndName",
    "GetExecutionByTypeAndName", "GetContextByTypeAndName", "GetArtifactsByURI", "GetEventsByExecutionIDs",
    "GetEventsByArtifactIDs", "GetArtifactsByExternalIds", "GetExecutionsByExternalIds",
    "GetContextsByExternalIds", "GetArtifactTypesByExternalIds", "GetExecutionTypesByExternalIds",
    "GetContextTypesByExternalIds", "GetContextsByArtifact", "GetContextsByExecution",
    "GetParentContextsByContext", "GetChildrenContextsByContext", "GetParentContextsByContexts",
    "GetChildrenContextsByContexts", "GetArtifactsByContext", "GetExecutionsByContext", "GetLineageGraph",
    "GetLineageSubgraph",
]

MODEL_MESSAGES = [
    "SystemTypeExtension", "Value", "Artifact", "ArtifactType", "Event", "Execution", "ExecutionType",
    "ContextType", "Context", "Attribution", "Association", "ParentContext", "LineageGraph",
    "ArtifactStructType", "UnionArtifactStructType", "IntersectionArtifactStructType", "ListArtifactStructType",
    "NoneArtifactStructType", "AnyArtifactStructType", "TupleArtifactStructType", "DictArtifactStructType",
    "FakeDatabaseConfig", "MySQLDatabaseConfig", "SqliteMetadataSourceConfig", "PostgreSQLDatabaseConfig",
    "MigrationOptions", "RetryOptions", "ConnectionConfig", "GrpcChannelArguments", "MetadataStoreClientConfig",
    "MetadataStoreServerConfig", "ListOperationOptions", "ListOperationNextPageToken", "TransactionOptions",
    "LineageGraphQueryOptions", "LineageSubgraphQueryOptions",
]


def test_committed_generated_modules_match_the_proto_sources(tmp_path: Path) -> None:
    """Regenerating changes nothing but the generator's own release stamps (any grpcio-tools 1.85.x)."""
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the test extra) generates the modules")
    generator.generate(tmp_path)
    stale = [
        name
        for name in generator.generated_files()
        if not (generator.SCHEMAS_DIR / name).exists()
        or generator.comparable((generator.SCHEMAS_DIR / name).read_bytes())
        != generator.comparable((tmp_path / name).read_bytes())
    ]
    assert not stale, (
        f"generated modules are stale against the .proto sources: {stale}; "
        "run `python -m mlmd_log.schemas.generate` and commit the result"
    )


def _lower_bound(requirement_prefix: str) -> tuple[int, ...]:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    (spec,) = [r for r in pyproject["project"]["dependencies"] if r.startswith(requirement_prefix + ">=")]
    return tuple(int(part) for part in spec.split(">=")[1].split(",")[0].split("."))


def test_committed_modules_run_on_every_runtime_the_package_allows() -> None:
    """The committed gencode refuses runtimes older than its stamps: pyproject must not allow those."""
    stamps = [generator.generator_stamps((generator.SCHEMAS_DIR / n).read_bytes()) for n in generator.generated_files()]
    grpc_stamps = [s["grpc"] for s in stamps if "grpc" in s]
    protobuf_stamps = [s["protobuf"] for s in stamps if "protobuf" in s]
    assert grpc_stamps and protobuf_stamps
    assert max(grpc_stamps) <= _lower_bound("grpcio")
    assert max(protobuf_stamps) <= _lower_bound("protobuf")


def test_the_staleness_check_still_sees_a_schema_change(tmp_path: Path) -> None:
    """Blanking the release stamps must not hide a change to what the schema declares."""
    name = "v1/ops_pb2.py"
    committed = (generator.SCHEMAS_DIR / name).read_bytes()
    restamped = committed.replace(b"# Protobuf Python Version: 7.35.1", b"# Protobuf Python Version: 7.99.9")
    assert generator.comparable(restamped) == generator.comparable(committed)
    edited = committed.replace(b"block_size", b"block_sizes")
    assert generator.comparable(edited) != generator.comparable(committed)


def test_generated_files_cover_every_proto_source() -> None:
    sources = sorted(str(p.relative_to(generator.SCHEMAS_DIR)) for p in generator.SCHEMAS_DIR.rglob("*.proto"))
    assert sorted(generator.PROTO_FILES) == sources


def test_model_messages_are_in_the_ml_metadata_proto_package() -> None:
    assert generated_model.DESCRIPTOR.package == "ml_metadata"
    assert list(generated_model.DESCRIPTOR.message_types_by_name) == MODEL_MESSAGES
    for name in MODEL_MESSAGES:
        assert getattr(metadata_store_pb2, name).DESCRIPTOR.full_name == f"ml_metadata.{name}"
    assert metadata_store_pb2.PropertyType.DESCRIPTOR.full_name == "ml_metadata.PropertyType"
    assert metadata_store_pb2.Event.Path.Step.DESCRIPTOR.full_name == "ml_metadata.Event.Path.Step"


def test_envelope_messages_are_in_the_mlmd_log_v1_package() -> None:
    assert ops_pb2.DESCRIPTOR.package == "mlmd_log.v1"
    assert ops_pb2.Operation.DESCRIPTOR.full_name == "mlmd_log.v1.Operation"
    payload = ops_pb2.Operation.DESCRIPTOR.fields_by_name["put_artifacts"].message_type
    assert payload is not None
    assert payload.full_name == "ml_metadata.PutArtifactsRequest"


def test_service_is_ml_metadata_MetadataStoreService_with_every_mlmd_rpc() -> None:
    service = generated_service.DESCRIPTOR.services_by_name["MetadataStoreService"]
    assert service.full_name == "ml_metadata.MetadataStoreService"
    assert [method.name for method in service.methods] == MLMD_RPCS
    for method in service.methods:
        assert method.input_type.full_name == f"ml_metadata.{method.name}Request"
        assert method.output_type.full_name == f"ml_metadata.{method.name}Response"
        assert not method.client_streaming and not method.server_streaming
    assert descriptor_pool.Default().FindServiceByName("ml_metadata.MetadataStoreService") is service


class _RecordingChannel:
    """Stands in for a grpc.Channel; records the method paths a stub registers."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def unary_unary(self, path: str, *args: Any, **kwargs: Any) -> object:
        self.paths.append(path)
        return object()


def test_grpc_stub_calls_mlmd_method_paths() -> None:
    channel = _RecordingChannel()
    metadata_store_service_pb2_grpc.MetadataStoreServiceStub(channel)  # type: ignore[no-untyped-call]
    assert channel.paths == [f"/ml_metadata.MetadataStoreService/{name}" for name in MLMD_RPCS]
    servicer = metadata_store_service_pb2_grpc.MetadataStoreServiceServicer
    assert all(callable(getattr(servicer, name)) for name in MLMD_RPCS)


@pytest.mark.parametrize(
    ("alias", "generated"),
    [
        (metadata_store_pb2, generated_model),
        (metadata_store_service_pb2, generated_service),
        (metadata_store_service_pb2_grpc, generated_grpc),
    ],
    ids=["metadata_store_pb2", "metadata_store_service_pb2", "metadata_store_service_pb2_grpc"],
)
def test_mlmd_log_proto_reexports_every_public_name_of_the_generated_module(alias: Any, generated: Any) -> None:
    public = [name for name in dir(generated) if not name.startswith("_")]
    assert [name for name in public if getattr(alias, name, None) is not getattr(generated, name)] == []


def test_proto2_declared_defaults_are_read_from_unset_fields() -> None:
    options = metadata_store_pb2.ListOperationOptions()
    assert (options.max_result_size, options.HasField("max_result_size")) == (20, False)
    assert options.order_by_field.field == metadata_store_pb2.ListOperationOptions.OrderByField.ID
    assert options.order_by_field.is_asc is True
    assert not options.HasField("order_by_field")
    assert metadata_store_pb2.MigrationOptions().downgrade_to_schema_version == -1
    assert metadata_store_pb2.LineageGraphQueryOptions().max_node_size == 20
    assert metadata_store_service_pb2.PutArtifactTypeRequest().all_fields_match is True
    assert metadata_store_pb2.ListOperationOptions().SerializeToString() == b""


def test_explicitly_set_default_values_keep_presence() -> None:
    artifact = metadata_store_pb2.Artifact(id=0, uri="", state=metadata_store_pb2.Artifact.UNKNOWN)
    assert artifact.HasField("id") and artifact.HasField("uri") and artifact.HasField("state")
    parsed = metadata_store_pb2.Artifact.FromString(artifact.SerializeToString())
    assert parsed.HasField("id") and parsed.HasField("uri") and parsed.HasField("state")
    assert not parsed.HasField("name")


def test_base_types_carry_their_mlmd_system_type_names() -> None:
    base_types = metadata_store_pb2.ArtifactType.SystemDefinedBaseType.DESCRIPTOR
    extension: Any = metadata_store_pb2.system_type_extension
    names = {
        value.name: value.GetOptions().Extensions[extension].type_name
        for value in base_types.values
    }
    assert names["DATASET"] == "mlmd.Dataset" and names["MODEL"] == "mlmd.Model"


def test_operation_with_put_artifacts_payload_round_trips_intact() -> None:
    request = metadata_store_service_pb2.PutArtifactsRequest(
        update_mask={"paths": ["properties.day"]},
        options=metadata_store_service_pb2.PutArtifactsRequest.Options(abort_if_latest_updated_time_changed=True),
    )
    artifact = request.artifacts.add(type_id=1, uri="gs://bucket/model", state=metadata_store_pb2.Artifact.LIVE)
    artifact.properties["day"].int_value = 0
    artifact.custom_properties["lr"].double_value = 0.01
    artifact.custom_properties["config"].struct_value.update({"layers": [64, 32], "opt": "adam"})
    operation = ops_pb2.Operation(
        op_id="7d1c6c1e-3c4b-4a52-9a8e-0d6c9b0e1f2a",
        producer=ops_pb2.ProducerIdentity(team="ml", service="trainer", host="h1", user="u", session_id="s"),
        client_time_ms=1_700_000_000_000,
        schema_version=1,
        assigned_ids=ops_pb2.AssignedIds(artifact_ids=[4097]),
        put_artifacts=request,
    )

    parsed = ops_pb2.Operation.FromString(operation.SerializeToString())

    assert parsed == operation
    assert parsed.WhichOneof("payload") == "put_artifacts"
    assert parsed.put_artifacts.artifacts[0].properties["day"].HasField("int_value")
    config = parsed.put_artifacts.artifacts[0].custom_properties["config"].struct_value
    assert config.fields["layers"].list_value.values[1].number_value == 32
    assert list(parsed.assigned_ids.artifact_ids) == [4097]
    assert parsed.SerializeToString(deterministic=True) == operation.SerializeToString(deterministic=True)
