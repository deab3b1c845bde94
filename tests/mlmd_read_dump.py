"""Runs under ml-metadata 1.17.1 (the reference venv): every MLMD read of a store, as JSON on stdout.

Usage: ``python mlmd_read_dump.py sqlite PATH``, ``... mysql HOST PORT DB USER [PASSWORD]`` or ``... grpc HOST PORT``.
Each read method is called for every id, type, name and external id the store holds, plus a set of
filter_query expressions and lineage subgraphs; results are MLMD messages in text form, sorted, so that two
stores answer equally exactly when their ids and contents are equal.
"""

import json
import sys

from google.protobuf import text_format
from ml_metadata import errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as m

ARTIFACT_FILTERS = (
    "type = 'Dataset'", "properties.rows.int_value > 1000", "custom_properties.tag.string_value = 't1'",
    "uri LIKE 's3://bucket/data/%'", "contexts_a.name = 'pipeline-0'", "state = LIVE",
    "name = 'data-1' OR external_id = 'ext-artifact-2'", "properties.ratio.double_value < 0.6",
    "custom_properties.flag.bool_value = true", "create_time_since_epoch > 0",
)
EXECUTION_FILTERS = (
    "type = 'Trainer'", "last_known_state = COMPLETE", "properties.steps.int_value >= 100",
    "contexts_a.name = 'run-1'", "custom_properties.lr.double_value > 0.015",
)
CONTEXT_FILTERS = (
    "type = 'Pipeline'", "parent_contexts_a.name = 'pipeline-0'", "child_contexts_a.name = 'run-2'",
    "properties.owner.string_value = 'team-1'", "name LIKE 'run-%'",
)


def connect(argv):
    config = m.ConnectionConfig()
    if argv[0] == "sqlite":
        config.sqlite.filename_uri = argv[1]
        config.sqlite.connection_mode = 1
        return metadata_store.MetadataStore(config)
    if argv[0] == "mysql":
        config.mysql.host, config.mysql.port, config.mysql.database, config.mysql.user = (
            argv[1], int(argv[2]), argv[3], argv[4])
        config.mysql.password = argv[5] if len(argv) > 5 else ""
        return metadata_store.MetadataStore(config)
    client = m.MetadataStoreClientConfig(host=argv[1], port=int(argv[2]))
    return metadata_store.MetadataStore(client)


def text(msgs):
    if not isinstance(msgs, (list, tuple)):
        msgs = [msgs]
    return sorted(text_format.MessageToString(x, as_one_line=True) for x in msgs if x is not None)


def call(fn, *args, **kwargs):
    try:
        return text(fn(*args, **kwargs))
    except errors.StatusError as err:
        return [f"{type(err).__name__}"]


def dump(store):
    out = {}
    types = {
        "artifact": store.get_artifact_types(), "execution": store.get_execution_types(),
        "context": store.get_context_types(),
    }
    for kind, found in types.items():
        out[f"get_{kind}_types"] = text(found)
        ids = [t.id for t in found]
        out[f"get_{kind}_types_by_id"] = call(getattr(store, f"get_{kind}_types_by_id"), ids)
        out[f"get_{kind}_types_by_external_ids"] = call(
            getattr(store, f"get_{kind}_types_by_external_ids"), [t.external_id for t in found if t.external_id])
        for t in found:
            version = t.version if t.HasField("version") else None
            out[f"get_{kind}_type {t.name} {version}"] = call(getattr(store, f"get_{kind}_type"), t.name, version)
            out[f"get_{kind}s_by_type {t.name} {version}"] = call(
                getattr(store, f"get_{kind}s_by_type"), t.name, version)
    nodes = {"artifact": store.get_artifacts(), "execution": store.get_executions(), "context": store.get_contexts()}
    for kind, found in nodes.items():
        out[f"get_{kind}s"] = text(found)
        ids = [n.id for n in found]
        out[f"get_{kind}s_by_id"] = call(getattr(store, f"get_{kind}s_by_id"), ids)
        out[f"get_{kind}s_by_external_ids"] = call(
            getattr(store, f"get_{kind}s_by_external_ids"), [n.external_id for n in found if n.external_id])
        type_names = {t.id: (t.name, t.version if t.HasField("version") else None) for t in types[kind]}
        for n in found:
            if n.name and n.type_id in type_names:
                name, version = type_names[n.type_id]
                out[f"get_{kind}_by_type_and_name {n.id}"] = call(
                    getattr(store, f"get_{kind}_by_type_and_name"), name, n.name, version)
    artifact_ids = [a.id for a in nodes["artifact"]]
    execution_ids = [e.id for e in nodes["execution"]]
    out["get_artifacts_and_types_by_artifact_ids"] = [
        text(list(pair)) for pair in zip(*store.get_artifacts_and_types_by_artifact_ids(artifact_ids), strict=False)]
    for a in nodes["artifact"]:
        out[f"get_artifacts_by_uri {a.uri}"] = call(store.get_artifacts_by_uri, a.uri)
        out[f"get_contexts_by_artifact {a.id}"] = call(store.get_contexts_by_artifact, a.id)
    for e in nodes["execution"]:
        out[f"get_contexts_by_execution {e.id}"] = call(store.get_contexts_by_execution, e.id)
    for c in nodes["context"]:
        for read in ("get_artifacts_by_context", "get_executions_by_context", "get_parent_contexts_by_context",
                     "get_children_contexts_by_context"):
            out[f"{read} {c.id}"] = call(getattr(store, read), c.id)
    out["get_events_by_artifact_ids"] = call(store.get_events_by_artifact_ids, artifact_ids)
    out["get_events_by_execution_ids"] = call(store.get_events_by_execution_ids, execution_ids)
    for kind, filters in (("artifact", ARTIFACT_FILTERS), ("execution", EXECUTION_FILTERS),
                          ("context", CONTEXT_FILTERS)):
        for query in filters:
            options = metadata_store.ListOptions(filter_query=query)
            out[f"get_{kind}s filter {query}"] = call(getattr(store, f"get_{kind}s"), list_options=options)
    for query, hops, direction in (
        ("name = 'data-0'", 5, m.LineageSubgraphQueryOptions.BIDIRECTIONAL),
        ("uri LIKE 's3://bucket/model/%'", 2, m.LineageSubgraphQueryOptions.UPSTREAM),
        ("type = 'Dataset'", 3, m.LineageSubgraphQueryOptions.DOWNSTREAM),
    ):
        options = m.LineageSubgraphQueryOptions(max_num_hops=hops, direction=direction)
        options.starting_artifacts.filter_query = query
        try:
            graph = store.get_lineage_subgraph(options)
            out[f"lineage {query} {hops} {direction}"] = {
                field: text(list(getattr(graph, field)))
                for field in ("artifacts", "executions", "contexts", "events", "artifact_types",
                              "execution_types", "context_types", "attributions", "associations")
            }
        except errors.StatusError as err:
            out[f"lineage {query} {hops} {direction}"] = type(err).__name__
    return out


if __name__ == "__main__":
    json.dump(dump(connect(sys.argv[1:])), sys.stdout, indent=1, sort_keys=True)
