"""A small TFX-shaped pipeline recorded in an embedded store, then questioned through the read API.

Two runs of ExampleGen -> Trainer -> Pusher, with hyperparameters and a library
version; the second push fails. (The full demo of issue #9 grows from this.)
"""

from __future__ import annotations

import os

import mlmd_log
from mlmd_log.proto import metadata_store_pb2 as mlmd


def run_demo(path: str) -> int:
    for leftover in (path, path + ".wal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    with mlmd_log.connect(f"duckdb:///{path}") as store:
        dataset_t = mlmd.ArtifactType(name="Examples")
        dataset_t.properties["span"] = mlmd.INT
        model_t = mlmd.ArtifactType(name="Model")
        trainer_t = mlmd.ExecutionType(name="Trainer")
        trainer_t.properties["learning_rate"] = mlmd.DOUBLE
        trainer_t.properties["tf_version"] = mlmd.STRING
        pusher_t = mlmd.ExecutionType(name="Pusher")
        run_t = mlmd.ContextType(name="PipelineRun")
        ids = {
            "examples": store.put_artifact_type(dataset_t), "model": store.put_artifact_type(model_t),
            "trainer": store.put_execution_type(trainer_t), "pusher": store.put_execution_type(pusher_t),
            "run": store.put_context_type(run_t),
        }
        models = []
        for run, lr in ((1, 0.1), (2, 0.01)):
            context = mlmd.Context(type_id=ids["run"], name=f"run-{run}")
            examples = mlmd.Artifact(type_id=ids["examples"], uri=f"/data/span-{run}")
            examples.properties["span"].int_value = run
            trainer = mlmd.Execution(type_id=ids["trainer"], last_known_state=mlmd.Execution.COMPLETE)
            trainer.properties["learning_rate"].double_value = lr
            trainer.properties["tf_version"].string_value = "2.15.1"
            model = mlmd.Artifact(type_id=ids["model"], uri=f"/models/run-{run}")
            _, (examples_id, model_id), (context_id,) = store.put_execution(
                trainer,
                [(examples, mlmd.Event(type=mlmd.Event.INPUT)), (model, mlmd.Event(type=mlmd.Event.OUTPUT))],
                [context],
            )
            state = mlmd.Execution.COMPLETE if run == 1 else mlmd.Execution.FAILED
            store.put_execution(
                mlmd.Execution(type_id=ids["pusher"], last_known_state=state),
                [(mlmd.Artifact(id=model_id, type_id=ids["model"], uri=f"/models/run-{run}"), mlmd.Event(type=mlmd.Event.INPUT))],
                [mlmd.Context(type_id=ids["run"], name=f"run-{run}")],
                reuse_context_if_already_exist=True,
            )
            models.append((model_id, examples_id, context_id))

        print(f"Recorded 2 pipeline runs in {path} (log position {store.log_position()}).\n")
        model_id, examples_id, _ = models[1]
        print(f"Which dataset did model {model_id} train on?")
        trainer_events = [e for e in store.get_events_by_artifact_ids([model_id]) if e.type == mlmd.Event.OUTPUT]
        inputs = store.get_events_by_execution_ids([trainer_events[0].execution_id])
        for a in store.get_artifacts_by_id([e.artifact_id for e in inputs if e.type == mlmd.Event.INPUT]):
            print(f"  {a.type} {a.id}  uri={a.uri}  span={a.properties['span'].int_value}")
        print("Which hyperparameters and library version?")
        (execution,) = store.get_executions_by_id([trainer_events[0].execution_id])
        print(f"  learning_rate={execution.properties['learning_rate'].double_value}  "
              f"tf_version={execution.properties['tf_version'].string_value}")
        print("Which pipeline run?")
        print("  " + ", ".join(c.name for c in store.get_contexts_by_artifact(model_id)))
        print("Which pushes failed?")
        for e in store.get_executions_by_type("Pusher"):
            if e.last_known_state == mlmd.Execution.FAILED:
                print(f"  Pusher {e.id} (update time {e.last_update_time_since_epoch} ms)")
    return 0
