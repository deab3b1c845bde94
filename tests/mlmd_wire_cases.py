"""Wire-compatibility cases shared by both sides of the MLMD comparison.

This module runs in two interpreters: ours (protobuf 7) with ``mlmd_log.proto`` and the ml-metadata 1.17.1
reference venv (protobuf 4.25) with ``ml_metadata.proto``. Both message APIs are the same, so the same code
builds the same messages from either pair of modules (``ms`` = ``metadata_store_pb2``, ``svc`` =
``metadata_store_service_pb2``). It may only use protobuf APIs that exist in both versions, and imports
nothing from the project.
"""

from __future__ import annotations

import base64
from types import ModuleType
from typing import Any

from google.protobuf import descriptor_pool, field_mask_pb2, struct_pb2, text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

# Messages and descriptors are typed Any here: the same code handles protobuf 4.25 and 7 objects.
Case = tuple[str, Message]

_LABEL_REPEATED = 3


def is_repeated(field: Any) -> bool:
    """``field.is_repeated`` (protobuf >= 6) or ``field.label`` (older; removed in protobuf 7)."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(field.label == _LABEL_REPEATED)


def is_map(field: Any) -> bool:
    """Whether ``field`` is a ``map<K, V>`` field."""
    return (
        is_repeated(field)
        and field.message_type is not None
        and bool(field.message_type.GetOptions().map_entry)
    )


# ---------------------------------------------------------------------------
# A presence-aware, JSON-able description of a message: every field, whether it is set, and the value a
# reader sees (the declared default when unset). Equal descriptions mean equal behaviour for readers.
# ---------------------------------------------------------------------------


def _scalar(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return repr(float(value))
    return value


def _element(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return describe(value)
    return _scalar(field, value)


def describe(message: Any) -> dict[str, Any]:
    """Every field of ``message`` with presence and read value; oneof cases; recursive."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = [[key, _element(value_field, value[key])] for key in sorted(value)]
        elif is_repeated(field):
            out[field.name] = [_element(field, item) for item in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            out[field.name] = describe(value) if message.HasField(field.name) else None
        else:
            has = message.HasField(field.name) if field.has_presence else None  # proto3 well-known types
            out[field.name] = {"has": has, "value": _scalar(field, value)}
    for oneof in message.DESCRIPTOR.oneofs:
        out[f"oneof:{oneof.name}"] = message.WhichOneof(oneof.name)
    return out


def bytes_are_canonical(message: Any) -> bool:
    """Whether deterministic serialization of ``message`` is the same across protobuf versions.

    Not when an integer-keyed map holds a negative key: upb orders such keys differently in protobuf 4.25
    (signed) and 7 (unsigned); both decode the other's bytes to equal messages.
    """
    for field, value in message.ListFields():
        if is_map(field):
            key_field = field.message_type.fields_by_name["key"]
            if key_field.type != FieldDescriptor.TYPE_STRING and any(key < 0 for key in value):
                return False
            value_field = field.message_type.fields_by_name["value"]
            if value_field.type == FieldDescriptor.TYPE_MESSAGE and not all(
                bytes_are_canonical(item) for item in value.values()
            ):
                return False
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if is_repeated(field) else [value]
            if not all(bytes_are_canonical(item) for item in items):
                return False
    return True


def report(message: Any) -> dict[str, Any]:
    """What one side sees in a message: description, JSON view, text view, bytes and size."""
    return {
        "type": message.DESCRIPTOR.full_name,
        "describe": describe(message),
        "dict": MessageToDict(message, preserving_proto_field_name=True),
        # An empty pool keeps Any payloads as bytes: protobuf 4.25 never expands an Any holding a Struct
        # (it tests the fresh, empty Struct for truth), protobuf 7 does; the bytes are compared either way.
        "text": text_format.MessageToString(message, as_utf8=True, descriptor_pool=descriptor_pool.DescriptorPool()),
        "deterministic": base64.b64encode(message.SerializeToString(deterministic=True)).decode(),
        "byte_size": message.ByteSize(),
    }


# ---------------------------------------------------------------------------
# Hand-written cases: realistic MLMD payloads, explicit defaults, every Put*Request.
# ---------------------------------------------------------------------------


def _struct() -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(
        {
            "lr": 0.001,
            "layers": [64, 32, 16],
            "name": "resnet-\u00e9\u4e2d",
            "nested": {"flag": True, "none": None, "empty": {}},
        }
    )
    return value


def _values(ms: ModuleType) -> dict[str, Message]:
    """One Value per kind, plus explicit zero values (present in proto2 though equal to the default)."""
    packed = ms.Artifact(id=7, uri="/any/packed", properties={"k": ms.Value(int_value=1)})
    any_struct = ms.Value()
    any_struct.proto_value.Pack(_struct(), deterministic=True)
    any_artifact = ms.Value()
    any_artifact.proto_value.Pack(packed, deterministic=True)
    struct_value = ms.Value()
    struct_value.struct_value.CopyFrom(_struct())
    return {
        "int": ms.Value(int_value=-(2**63)),
        "int_zero": ms.Value(int_value=0),
        "double": ms.Value(double_value=0.1),
        "double_big": ms.Value(double_value=-1.5e300),
        "string": ms.Value(string_value="s3://bucket/\u00fcber/\u6a21\u578b"),
        "string_empty": ms.Value(string_value=""),
        "struct": struct_value,
        "proto_struct": any_struct,
        "proto_artifact": any_artifact,
        "bool_true": ms.Value(bool_value=True),
        "bool_false": ms.Value(bool_value=False),
    }


def _system_metadata(ms: ModuleType, tag: str) -> Any:
    holder = ms.Attribution()
    holder.system_metadata.Pack(ms.TransactionOptions(tag=tag), deterministic=True)
    return holder.system_metadata


def _artifact(ms: ModuleType, index: int) -> Any:
    artifact = ms.Artifact(
        id=100 + index,
        name=f"model-{index}",
        type_id=3,
        type="Model",
        uri=f"gs://models/{index}",
        external_id=f"ext-a-{index}",
        state=ms.Artifact.LIVE,
        create_time_since_epoch=1_700_000_000_000 + index,
        last_update_time_since_epoch=1_700_000_000_500 + index,
    )
    for name, value in _values(ms).items():
        artifact.properties[name].CopyFrom(value)
        artifact.custom_properties[f"custom_{name}"].CopyFrom(value)
    artifact.system_metadata.CopyFrom(_system_metadata(ms, f"artifact-{index}"))
    return artifact


def _execution(ms: ModuleType, index: int) -> Any:
    execution = ms.Execution(
        id=200 + index,
        name=f"trainer-{index}",
        type_id=4,
        type="Trainer",
        external_id=f"ext-e-{index}",
        last_known_state=ms.Execution.COMPLETE,
        create_time_since_epoch=1_700_000_001_000,
        last_update_time_since_epoch=1_700_000_001_001,
    )
    execution.properties["epochs"].int_value = 10
    execution.properties["lr"].double_value = 0.01
    execution.custom_properties["library"].string_value = "tensorflow==2.15"
    execution.custom_properties["config"].struct_value.CopyFrom(_struct())
    execution.system_metadata.CopyFrom(_system_metadata(ms, "execution"))
    return execution


def _context(ms: ModuleType, index: int) -> Any:
    context = ms.Context(
        id=300 + index,
        name=f"run-{index}",
        type_id=5,
        type="PipelineRun",
        external_id=f"ext-c-{index}",
        create_time_since_epoch=1_700_000_002_000,
        last_update_time_since_epoch=1_700_000_002_002,
    )
    context.properties["pipeline"].string_value = "taxi"
    context.custom_properties["owner"].string_value = "team-a"
    context.custom_properties["ok"].bool_value = True
    return context


def _event(ms: ModuleType, kind: int, artifact_id: int = 100, execution_id: int = 200) -> Any:
    event = ms.Event(
        artifact_id=artifact_id,
        execution_id=execution_id,
        type=kind,
        milliseconds_since_epoch=1_700_000_003_000,
    )
    event.path.steps.add().key = "examples"
    event.path.steps.add().index = 0
    event.path.steps.add().index = -1
    event.path.steps.add().key = ""
    event.system_metadata.CopyFrom(_system_metadata(ms, "event"))
    return event


def _struct_type(ms: ModuleType) -> Any:
    """An ArtifactStructType touching every member of the ``kind`` oneof."""
    dataset = ms.ArtifactType(name="Dataset")
    model = ms.ArtifactType(name="Model", version="v2")
    root = ms.ArtifactStructType()
    root.dict.none_type_not_required = True
    root.dict.properties["examples"].simple.CopyFrom(dataset)
    union = root.dict.properties["either"].union_type
    union.candidates.add().simple.CopyFrom(dataset)
    union.candidates.add().none.SetInParent()
    inter = root.dict.properties["both"].intersection
    inter.constraints.add().simple.CopyFrom(model)
    inter.constraints.add().any.SetInParent()
    root.dict.properties["many"].list.element.simple.CopyFrom(model)
    tuple_type = root.dict.properties["pair"].tuple
    tuple_type.elements.add().simple.CopyFrom(dataset)
    tuple_type.elements.add().simple.CopyFrom(model)
    root.dict.extra_properties_type.any.SetInParent()
    return root


def _artifact_type(ms: ModuleType) -> Any:
    artifact_type = ms.ArtifactType(
        id=3,
        name="Model",
        version="1.0",
        description="a trained model",
        external_id="ext-at",
        base_type=ms.ArtifactType.MODEL,
    )
    for index, kind in enumerate(("UNKNOWN", "INT", "DOUBLE", "STRING", "STRUCT", "PROTO", "BOOLEAN")):
        artifact_type.properties[f"p{index}_{kind.lower()}"] = getattr(ms, kind)
    return artifact_type


def _execution_type(ms: ModuleType) -> Any:
    execution_type = ms.ExecutionType(
        id=4,
        name="Trainer",
        version="2",
        description="trains",
        external_id="ext-et",
        base_type=ms.ExecutionType.TRAIN,
        properties={"epochs": ms.INT, "lr": ms.DOUBLE},
    )
    execution_type.input_type.CopyFrom(_struct_type(ms))
    execution_type.output_type.simple.name = "Model"
    return execution_type


def _context_type(ms: ModuleType) -> Any:
    return ms.ContextType(
        id=5,
        name="PipelineRun",
        version="1",
        description="one run",
        external_id="ext-ct",
        base_type=ms.ContextType.UNSET,
        properties={"pipeline": ms.STRING},
    )


def _list_options(ms: ModuleType) -> Any:
    options = ms.ListOperationOptions(
        max_result_size=100,
        next_page_token="opaque-token==",
        filter_query="type = 'Model' AND properties.day.int_value > 500",
    )
    options.order_by_field.field = ms.ListOperationOptions.OrderByField.CREATE_TIME
    options.order_by_field.is_asc = False
    return options


def _lineage_graph(ms: ModuleType) -> Any:
    graph = ms.LineageGraph()
    graph.artifact_types.append(_artifact_type(ms))
    graph.execution_types.append(_execution_type(ms))
    graph.context_types.append(_context_type(ms))
    graph.artifacts.extend([_artifact(ms, 0), _artifact(ms, 1)])
    graph.executions.append(_execution(ms, 0))
    graph.contexts.append(_context(ms, 0))
    graph.events.extend([_event(ms, ms.Event.INPUT, 100), _event(ms, ms.Event.OUTPUT, 101)])
    graph.attributions.add(artifact_id=100, context_id=300)
    graph.associations.add(execution_id=200, context_id=300)
    graph.parent_contexts.add(child_id=301, parent_id=300)
    return graph


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def _type_flags(can_add: bool, all_match: bool | None) -> dict[str, Any]:
    flags: dict[str, Any] = {"can_add_fields": can_add, "can_omit_fields": True, "can_delete_fields": False}
    if all_match is not None:
        flags["all_fields_match"] = all_match
    return flags


def _model_cases(ms: ModuleType) -> list[Case]:
    cases: list[Case] = [(f"Value.{name}", value) for name, value in _values(ms).items()]
    cases += [
        ("Value.unset", ms.Value()),
        ("SystemTypeExtension", ms.SystemTypeExtension(type_name="mlmd.Dataset")),
        ("Artifact.full", _artifact(ms, 0)),
        ("Artifact.empty", ms.Artifact()),
        # proto2: explicitly set zero/empty values stay present and go on the wire.
        ("Artifact.explicit_defaults", ms.Artifact(id=0, name="", uri="", state=ms.Artifact.UNKNOWN)),
        ("Artifact.every_state", ms.Artifact(state=ms.Artifact.REFERENCE)),
        ("ArtifactType", _artifact_type(ms)),
        ("ExecutionType", _execution_type(ms)),
        ("ContextType", _context_type(ms)),
        ("Execution", _execution(ms, 0)),
        ("Context", _context(ms, 0)),
        ("Event", _event(ms, ms.Event.PENDING_OUTPUT)),
        ("Event.empty_path", ms.Event(artifact_id=1, execution_id=2, path=ms.Event.Path())),
        ("Attribution", ms.Attribution(artifact_id=1, context_id=2, system_metadata=_system_metadata(ms, "x"))),
        ("Association", ms.Association(execution_id=1, context_id=2)),
        ("ParentContext", ms.ParentContext(child_id=2, parent_id=1)),
        ("LineageGraph", _lineage_graph(ms)),
        ("ArtifactStructType", _struct_type(ms)),
        ("ListOperationOptions.unset", ms.ListOperationOptions()),
        ("ListOperationOptions.explicit_defaults", ms.ListOperationOptions(
            max_result_size=20,
            order_by_field=ms.ListOperationOptions.OrderByField(
                field=ms.ListOperationOptions.OrderByField.ID, is_asc=True
            ),
        )),
        ("ListOperationOptions.empty_order_by", ms.ListOperationOptions(
            order_by_field=ms.ListOperationOptions.OrderByField()
        )),
        ("ListOperationOptions.full", _list_options(ms)),
        ("ListOperationNextPageToken", ms.ListOperationNextPageToken(
            id_offset=42, field_offset=1_700_000_000_000, set_options=_list_options(ms), listed_ids=[1, 2, 3]
        )),
        ("TransactionOptions", ms.TransactionOptions(tag="t")),
        ("LineageGraphQueryOptions", ms.LineageGraphQueryOptions(
            artifacts_options=_list_options(ms),
            stop_conditions=ms.LineageGraphQueryOptions.BoundaryConstraint(
                max_num_hops=20, boundary_artifacts="uri LIKE 'gs://%'", boundary_executions="name = 'x'"
            ),
            max_node_size=0,
        )),
        ("LineageGraphQueryOptions.unset", ms.LineageGraphQueryOptions()),
        ("LineageSubgraphQueryOptions.artifacts", ms.LineageSubgraphQueryOptions(
            starting_artifacts=ms.LineageSubgraphQueryOptions.StartingNodes(filter_query="id = 1"),
            max_num_hops=20,
            direction=ms.LineageSubgraphQueryOptions.UPSTREAM,
            ending_artifacts=ms.LineageSubgraphQueryOptions.EndingNodes(
                filter_query="type = 'Dataset'", include_ending_nodes=True
            ),
            ending_executions=ms.LineageSubgraphQueryOptions.EndingNodes(include_ending_nodes=False),
        )),
        ("LineageSubgraphQueryOptions.executions", ms.LineageSubgraphQueryOptions(
            starting_executions=ms.LineageSubgraphQueryOptions.StartingNodes(filter_query=""),
            direction=ms.LineageSubgraphQueryOptions.BIDIRECTIONAL,
        )),
        ("ConnectionConfig.fake", ms.ConnectionConfig(fake_database=ms.FakeDatabaseConfig())),
        ("ConnectionConfig.sqlite", ms.ConnectionConfig(
            sqlite=ms.SqliteMetadataSourceConfig(
                filename_uri="/tmp/mlmd.sqlite",
                connection_mode=ms.SqliteMetadataSourceConfig.READWRITE_OPENCREATE,
            ),
            retry_options=ms.RetryOptions(max_num_retries=5),
        )),
        ("ConnectionConfig.mysql", ms.ConnectionConfig(mysql=ms.MySQLDatabaseConfig(
            host="db", port=3306, database="mlmd", user="u", password="p", socket="/s",
            ssl_options=ms.MySQLDatabaseConfig.SSLOptions(
                key="k", cert="c", ca="ca", capath="/ca", cipher="AES", verify_server_cert=True
            ),
            skip_db_creation=False,
        ))),
        ("ConnectionConfig.postgresql", ms.ConnectionConfig(postgresql=ms.PostgreSQLDatabaseConfig(
            host="pg", hostaddr="10.0.0.1", port="5432", user="u", password="p", passfile="/pf",
            dbname="mlmd", skip_db_creation=True,
            ssloption=ms.PostgreSQLDatabaseConfig.SSLOptions(
                sslmode="verify-full", sslcert="c", sslkey="k", sslpassword="pw", sslrootcert="r"
            ),
        ))),
        ("MigrationOptions.unset", ms.MigrationOptions()),
        ("MigrationOptions.explicit_default", ms.MigrationOptions(downgrade_to_schema_version=-1)),
        ("MigrationOptions.set", ms.MigrationOptions(enable_upgrade_migration=True, downgrade_to_schema_version=5)),
        ("MetadataStoreClientConfig", ms.MetadataStoreClientConfig(
            host="localhost", port=8080,
            ssl_config=ms.MetadataStoreClientConfig.SSLConfig(client_key="k", server_cert="c", custom_ca="ca"),
            channel_arguments=ms.GrpcChannelArguments(max_receive_message_length=-1, http2_max_ping_strikes=0),
            client_timeout_sec=2.5,
        )),
        ("MetadataStoreServerConfig", ms.MetadataStoreServerConfig(
            connection_config=ms.ConnectionConfig(fake_database=ms.FakeDatabaseConfig()),
            migration_options=ms.MigrationOptions(enable_upgrade_migration=False),
            ssl_config=ms.MetadataStoreServerConfig.SSLConfig(
                server_key="k", server_cert="c", custom_ca="ca", client_verify=True
            ),
        )),
    ]
    return cases


def _put_cases(ms: ModuleType, svc: ModuleType) -> list[Case]:
    execution_request = svc.PutExecutionRequest(
        execution=_execution(ms, 1),
        contexts=[_context(ms, 1), ms.Context(type_id=5, name="new-run")],
        options=svc.PutExecutionRequest.Options(
            reuse_context_if_already_exist=True,
            reuse_artifact_if_already_exist_by_external_id=True,
            force_update_time=False,
            force_reuse_context=True,
        ),
        transaction_options=ms.TransactionOptions(tag="put-execution"),
    )
    for index, kind in enumerate((ms.Event.INPUT, ms.Event.OUTPUT)):
        pair = execution_request.artifact_event_pairs.add()
        pair.artifact.CopyFrom(_artifact(ms, index))
        pair.event.CopyFrom(_event(ms, kind, artifact_id=0, execution_id=0))
    execution_request.artifact_event_pairs.add().artifact.uri = "no-event"

    subgraph = svc.PutLineageSubgraphRequest(
        executions=[_execution(ms, 0), ms.Execution(type_id=4)],
        artifacts=[_artifact(ms, 0), ms.Artifact(type_id=3, uri="/x")],
        contexts=[_context(ms, 0)],
        options=svc.PutLineageSubgraphRequest.Options(
            reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=False
        ),
    )
    subgraph.event_edges.add(execution_index=0, artifact_index=1, event=ms.Event(type=ms.Event.OUTPUT))
    subgraph.event_edges.add(execution_index=1, artifact_index=0, event=_event(ms, ms.Event.INPUT, 0, 0))
    subgraph.event_edges.add(execution_index=0, artifact_index=0)

    return [
        ("PutArtifactTypeRequest", svc.PutArtifactTypeRequest(
            artifact_type=_artifact_type(ms), transaction_options=ms.TransactionOptions(tag="t"),
            **_type_flags(True, None),
        )),
        ("PutArtifactTypeRequest.all_fields_match_false", svc.PutArtifactTypeRequest(
            artifact_type=ms.ArtifactType(name="Dataset"), **_type_flags(False, False)
        )),
        ("PutArtifactTypeRequest.unset", svc.PutArtifactTypeRequest()),
        ("PutExecutionTypeRequest", svc.PutExecutionTypeRequest(
            execution_type=_execution_type(ms), **_type_flags(True, True)
        )),
        ("PutContextTypeRequest", svc.PutContextTypeRequest(
            context_type=_context_type(ms), **_type_flags(False, None)
        )),
        ("PutTypesRequest", svc.PutTypesRequest(
            artifact_types=[_artifact_type(ms), ms.ArtifactType(name="Dataset", base_type=ms.ArtifactType.DATASET)],
            execution_types=[_execution_type(ms)],
            context_types=[_context_type(ms)],
            transaction_options=ms.TransactionOptions(tag="types"),
            **_type_flags(True, False),
        )),
        ("PutArtifactsRequest", svc.PutArtifactsRequest(
            artifacts=[_artifact(ms, i) for i in range(3)] + [ms.Artifact(type_id=3, uri="/new")],
            options=svc.PutArtifactsRequest.Options(abort_if_latest_updated_time_changed=True),
            transaction_options=ms.TransactionOptions(tag="artifacts"),
            update_mask=_mask("properties.int", "custom_properties.custom_string", "uri"),
        )),
        ("PutArtifactsRequest.empty_options", svc.PutArtifactsRequest(
            artifacts=[ms.Artifact()], options=svc.PutArtifactsRequest.Options(), update_mask=_mask()
        )),
        ("PutExecutionsRequest", svc.PutExecutionsRequest(
            executions=[_execution(ms, 0), ms.Execution(type_id=4, last_known_state=ms.Execution.RUNNING)],
            update_mask=_mask("last_known_state"),
        )),
        ("PutContextsRequest", svc.PutContextsRequest(
            contexts=[_context(ms, 0), _context(ms, 1)], update_mask=_mask("properties.pipeline")
        )),
        ("PutEventsRequest", svc.PutEventsRequest(
            events=[_event(ms, kind) for kind in range(8)], transaction_options=ms.TransactionOptions()
        )),
        ("PutExecutionRequest", execution_request),
        ("PutLineageSubgraphRequest", subgraph),
        ("PutAttributionsAndAssociationsRequest", svc.PutAttributionsAndAssociationsRequest(
            attributions=[ms.Attribution(artifact_id=i, context_id=300) for i in range(3)],
            associations=[ms.Association(execution_id=200, context_id=300)],
        )),
        ("PutParentContextsRequest", svc.PutParentContextsRequest(
            parent_contexts=[ms.ParentContext(child_id=301, parent_id=300), ms.ParentContext(child_id=302)]
        )),
        # Packed id lists on MLMD's wire.
        ("PutLineageSubgraphResponse", svc.PutLineageSubgraphResponse(
            execution_ids=[1, 2], artifact_ids=[3, 4, 2**40], context_ids=[-1]
        )),
        ("PutArtifactsResponse", svc.PutArtifactsResponse(artifact_ids=[1, 2, 3])),
        ("GetParentContextsByContextsRequest", svc.GetParentContextsByContextsRequest(context_ids=[1, 2, 3])),
        ("GetChildrenContextsByContextsResponse", svc.GetChildrenContextsByContextsResponse(contexts={
            1: svc.GetChildrenContextsByContextsResponse.ChildrenContextsPerParent(
                children_contexts=[_context(ms, 2)]
            ),
            -5: svc.GetChildrenContextsByContextsResponse.ChildrenContextsPerParent(),
        })),
        ("GetArtifactsByIDRequest.populate_false", svc.GetArtifactsByIDRequest(
            artifact_ids=[1], populate_artifact_types=False
        )),
        ("GetLineageSubgraphRequest", svc.GetLineageSubgraphRequest(
            lineage_subgraph_query_options=ms.LineageSubgraphQueryOptions(
                starting_artifacts=ms.LineageSubgraphQueryOptions.StartingNodes(filter_query="id = 1"),
                max_num_hops=3,
            ),
            read_mask=_mask("artifacts.id", "events"),
        )),
        ("GetLineageSubgraphResponse", svc.GetLineageSubgraphResponse(lineage_subgraph=_lineage_graph(ms))),
        ("GetArtifactsByTypeRequest", svc.GetArtifactsByTypeRequest(
            type_name="Model", type_version="1", options=_list_options(ms)
        )),
    ]


# ---------------------------------------------------------------------------
# Generated cases: every message of both files, every field set, driven by the descriptor alone.
# ---------------------------------------------------------------------------

_MAX_DEPTH = 3


def _fill_value(field: Any, depth: int, salt: int) -> Any:
    """A non-default value for one scalar ``field`` (a pure function of its position)."""
    kind = field.type
    if kind == FieldDescriptor.TYPE_BOOL:
        return True
    if kind == FieldDescriptor.TYPE_STRING:
        return f"{field.name}-{depth}-{salt}-\u00e9"
    if kind == FieldDescriptor.TYPE_BYTES:
        return bytes([field.number, depth, salt, 0xFF])
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return field.number + depth / 4 + salt
    if kind == FieldDescriptor.TYPE_ENUM:
        values = field.enum_type.values
        return values[(salt + depth + 1) % len(values)].number
    # Integers: negative on odd salts to exercise ten-byte varints.
    number = field.number * 1000 + depth * 10 + salt
    return -number if salt % 2 else number


def fill(message: Any, depth: int = 0) -> Any:
    """Set every field of ``message`` (one oneof member each, rotating with depth; recursion bounded)."""
    descriptor = message.DESCRIPTOR
    if descriptor.full_name == "google.protobuf.Any":
        message.Pack(struct_pb2.Struct(fields={"depth": struct_pb2.Value(number_value=depth)}), deterministic=True)
        return message
    if descriptor.full_name == "google.protobuf.Struct":
        message.update({"depth": depth, "tags": ["a", "b"], "ok": True, "none": None})
        return message
    if descriptor.full_name == "google.protobuf.FieldMask":
        message.paths.extend(["id", f"properties.p{depth}"])
        return message
    chosen = {oneof.name: oneof.fields[depth % len(oneof.fields)].name for oneof in descriptor.oneofs}
    for field in descriptor.fields:
        if field.containing_oneof is not None and chosen[field.containing_oneof.name] != field.name:
            continue
        container = getattr(message, field.name)
        if is_map(field):
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            for salt in (1, 2):
                key = _fill_value(key_field, depth, salt)
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    if depth < _MAX_DEPTH:
                        fill(container[key], depth + 1)
                    else:
                        container[key].SetInParent()
                else:
                    container[key] = _fill_value(value_field, depth, salt)
        elif is_repeated(field):
            for salt in (1, 2):
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    if depth < _MAX_DEPTH:
                        fill(container.add(), depth + 1)
                else:
                    container.append(_fill_value(field, depth, salt))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < _MAX_DEPTH:
                fill(container, depth + 1)
            else:
                container.SetInParent()
        else:
            setattr(message, field.name, _fill_value(field, depth, 0))
    return message


def _all_messages(descriptor: Any) -> list[Any]:
    found = [descriptor]
    for nested in descriptor.nested_types:
        if not nested.GetOptions().map_entry:
            found += _all_messages(nested)
    return found


def generated_cases(ms: ModuleType, svc: ModuleType) -> list[Case]:
    """One fully populated instance of every message (top-level and nested) declared in the two files."""
    cases: list[Case] = []
    for module in (ms, svc):
        for top in module.DESCRIPTOR.message_types_by_name.values():
            for descriptor in _all_messages(top):
                message_class = _message_class(module, descriptor)
                cases.append((f"filled.{descriptor.full_name}", fill(message_class())))
    return cases


def _message_class(module: ModuleType, descriptor: Any) -> Any:
    path = descriptor.full_name.split(".")[1:]  # drop the package
    found: Any = module
    for name in path:
        found = getattr(found, name)
    return found


def all_cases(ms: ModuleType, svc: ModuleType) -> list[Case]:
    """Every case, hand-written first; names are unique."""
    cases = _model_cases(ms) + _put_cases(ms, svc) + generated_cases(ms, svc)
    names = [name for name, _ in cases]
    if len(names) != len(set(names)):
        raise AssertionError(f"duplicate case names: {sorted(n for n in names if names.count(n) > 1)}")
    return cases
