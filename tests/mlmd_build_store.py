"""Runs under ml-metadata 1.17.1 (the reference venv): fills an MLMD store with every kind of row.

Usage: ``python mlmd_build_store.py sqlite PATH`` or ``python mlmd_build_store.py mysql HOST PORT DB USER [PASSWORD]``,
optionally followed by ``--scale N`` (N more artifacts, executions and events, for benchmarks). Covers types
with versions, base types, external ids, descriptions and every property type; artifacts, executions and
contexts with every property kind (int, double, string, bool, struct, proto), states, uris, external ids;
events with index and key path steps; attributions, associations and parent contexts.
"""

import sys

from google.protobuf import any_pb2
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as m


def connect(argv):
    config = m.ConnectionConfig()
    if argv[0] == "sqlite":
        config.sqlite.filename_uri = argv[1]
        config.sqlite.connection_mode = 3
    else:
        config.mysql.host, config.mysql.port, config.mysql.database, config.mysql.user = (
            argv[1], int(argv[2]), argv[3], argv[4])
        config.mysql.password = argv[5] if len(argv) > 5 else ""
    return metadata_store.MetadataStore(config)


def fill(store, scale):
    string, integer, double, struct, proto, boolean = m.STRING, m.INT, m.DOUBLE, m.STRUCT, m.PROTO, m.BOOLEAN
    dataset = m.ArtifactType(name="Dataset", version="v1", description="rows", external_id="ext-type-dataset",
                             base_type=m.ArtifactType.DATASET)
    for name, kind in (("split", string), ("rows", integer), ("ratio", double), ("schema", struct),
                       ("spec", proto), ("clean", boolean)):
        dataset.properties[name] = kind
    dataset_id = store.put_artifact_type(dataset)
    dataset_v2 = m.ArtifactType(name="Dataset", version="v2")
    dataset_v2.properties["split"] = string
    store.put_artifact_type(dataset_v2)
    model = m.ArtifactType(name="Model", base_type=m.ArtifactType.MODEL)
    model.properties["accuracy"] = double
    model_id = store.put_artifact_type(model)
    trainer = m.ExecutionType(name="Trainer", base_type=m.ExecutionType.TRAIN, external_id="ext-type-trainer")
    trainer.properties["steps"] = integer
    trainer.properties["note"] = string
    trainer_id = store.put_execution_type(trainer)
    evaluator_id = store.put_execution_type(m.ExecutionType(name="Evaluator", version="1.0"))
    pipeline = m.ContextType(name="Pipeline", description="a pipeline")
    pipeline.properties["owner"] = string
    pipeline_id = store.put_context_type(pipeline)
    run_id = store.put_context_type(m.ContextType(name="Run", external_id="ext-type-run"))
    # A type registered after types of other kinds: ids interleave across kinds, as MLMD assigns them.
    store.put_artifact_type(m.ArtifactType(name="Schema", version="late", base_type=m.ArtifactType.STATISTICS))

    spec = any_pb2.Any()
    spec.Pack(m.Value(string_value="packed"))
    artifacts = []
    for i in range(6):
        a = m.Artifact(type_id=dataset_id, uri=f"s3://bucket/data/{i}", name=f"data-{i}",
                       state=[m.Artifact.LIVE, m.Artifact.PENDING, m.Artifact.DELETED][i % 3])
        a.properties["split"].string_value = "train" if i % 2 else "eval"
        a.properties["rows"].int_value = 1000 * i
        a.properties["ratio"].double_value = 0.25 * i
        a.properties["clean"].bool_value = i % 2 == 0
        if i < 3:
            a.external_id = f"ext-artifact-{i}"
            a.properties["schema"].struct_value.update({"columns": ["a", "b"], "n": i, "nested": {"ok": True}})
            a.properties["spec"].proto_value.CopyFrom(spec)
        a.custom_properties["tag"].string_value = f"t{i}"
        a.custom_properties["score"].double_value = i / 3
        a.custom_properties["flag"].bool_value = i == 1
        a.custom_properties["meta"].struct_value.update({"k": [1, 2, {"x": None}]})
        artifacts.append(a)
    models = []
    for i in range(3):
        a = m.Artifact(type_id=model_id, uri=f"s3://bucket/model/{i}")
        a.properties["accuracy"].double_value = 0.9 + i / 100
        a.custom_properties["epochs"].int_value = 10 * (i + 1)
        a.custom_properties["blob"].proto_value.CopyFrom(spec)
        models.append(a)
    artifact_ids = store.put_artifacts(artifacts + models)
    executions = []
    for i in range(4):
        e = m.Execution(type_id=trainer_id, name=f"train-{i}",
                        last_known_state=[m.Execution.COMPLETE, m.Execution.RUNNING, m.Execution.FAILED,
                                          m.Execution.CACHED][i])
        e.properties["steps"].int_value = 100 * i
        e.properties["note"].string_value = "warm start" if i else ""
        if i == 0:
            e.external_id = "ext-execution-0"
        e.custom_properties["lr"].double_value = 0.01 * (i + 1)
        executions.append(e)
    executions.append(m.Execution(type_id=evaluator_id, last_known_state=m.Execution.NEW))
    execution_ids = store.put_executions(executions)
    contexts = []
    for i in range(3):
        c = m.Context(type_id=pipeline_id, name=f"pipeline-{i}")
        c.properties["owner"].string_value = f"team-{i}"
        c.custom_properties["prio"].int_value = i
        contexts.append(c)
    for i in range(3):
        contexts.append(m.Context(type_id=run_id, name=f"run-{i}", external_id=f"ext-run-{i}"))
    context_ids = store.put_contexts(contexts)

    def path(*steps):
        p = m.Event.Path()
        for s in steps:
            if isinstance(s, int):
                p.steps.add().index = s
            else:
                p.steps.add().key = s
        return p

    events = []
    for i, execution_id in enumerate(execution_ids):
        events.append(m.Event(artifact_id=artifact_ids[i], execution_id=execution_id, type=m.Event.INPUT,
                              path=path("examples", i)))
        events.append(m.Event(artifact_id=artifact_ids[6 + i % 3], execution_id=execution_id,
                              type=[m.Event.OUTPUT, m.Event.DECLARED_OUTPUT, m.Event.INTERNAL_OUTPUT,
                                    m.Event.PENDING_OUTPUT, m.Event.DECLARED_INPUT][i],
                              path=path("model", 0, "weights")))
    events.append(m.Event(artifact_id=artifact_ids[5], execution_id=execution_ids[4],
                          type=m.Event.INTERNAL_INPUT))
    store.put_events(events)
    attributions = [m.Attribution(artifact_id=a, context_id=context_ids[i % 3]) for i, a in enumerate(artifact_ids)]
    associations = [m.Association(execution_id=e, context_id=context_ids[3 + i % 3])
                    for i, e in enumerate(execution_ids)]
    associations.append(m.Association(execution_id=execution_ids[0], context_id=context_ids[0]))
    store.put_attributions_and_associations(attributions, associations)
    store.put_parent_contexts([
        m.ParentContext(child_id=context_ids[3], parent_id=context_ids[0]),
        m.ParentContext(child_id=context_ids[4], parent_id=context_ids[0]),
        m.ParentContext(child_id=context_ids[5], parent_id=context_ids[1]),
        m.ParentContext(child_id=context_ids[1], parent_id=context_ids[2]),
    ])
    # An update after creation: last_update_time differs from create_time.
    updated = store.get_artifacts_by_id([artifact_ids[0]])[0]
    updated.custom_properties["tag"].string_value = "updated"
    store.put_artifacts([updated])
    if scale:
        fill_scale(store, scale, dataset_id, trainer_id, context_ids[0])


def fill_scale(store, n, dataset_id, trainer_id, context_id):
    """n artifacts, n/2 executions and n events in batches, as a pipeline run would leave them."""
    batch = 2_000
    for start in range(0, n, batch):
        count = min(batch, n - start)
        artifacts = []
        for i in range(start, start + count):
            a = m.Artifact(type_id=dataset_id, uri=f"s3://bulk/{i}", state=m.Artifact.LIVE)
            a.properties["rows"].int_value = i
            a.properties["split"].string_value = "train"
            a.custom_properties["i"].int_value = i
            artifacts.append(a)
        artifact_ids = store.put_artifacts(artifacts)
        executions = [m.Execution(type_id=trainer_id, last_known_state=m.Execution.COMPLETE)
                      for _ in range(count // 2)]
        for j, e in enumerate(executions):
            e.properties["steps"].int_value = j
        execution_ids = store.put_executions(executions)
        events = []
        for j, a in enumerate(artifact_ids):
            event = m.Event(artifact_id=a, execution_id=execution_ids[j // 2],
                            type=m.Event.OUTPUT if j % 2 else m.Event.INPUT)
            event.path.steps.add().key = "out"
            events.append(event)
        store.put_events(events)


if __name__ == "__main__":
    args = sys.argv[1:]
    scale = 0
    if "--scale" in args:
        at = args.index("--scale")
        scale = int(args[at + 1])
        args = args[:at] + args[at + 2:]
    fill(connect(args), scale)
