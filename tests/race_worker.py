"""One racing producer process (used by test_races.py): registers shared types and contexts, writes events."""

from __future__ import annotations

import sys

import mlmd_log
from mlmd_log.proto import metadata_store_pb2 as mlmd


def main(url: str, worker: int, shared_artifact: int, rounds: int) -> None:
    store = mlmd_log.connect(url)
    data = mlmd.ArtifactType(name="Data")
    data.properties["day"] = mlmd.INT
    data_t = store.put_artifact_type(data)
    step_t = store.put_execution_type(mlmd.ExecutionType(name="Step"))
    pipeline_t = store.put_context_type(mlmd.ContextType(name="Pipeline"))
    for i in range(rounds):
        out = mlmd.Artifact(type_id=data_t, uri=f"/w{worker}/{i}")
        out.properties["day"].int_value = i
        store.put_execution(
            mlmd.Execution(type_id=step_t, name=f"w{worker}-{i}"),
            [(mlmd.Artifact(id=shared_artifact, type_id=data_t, uri="/shared"), mlmd.Event(type=mlmd.Event.INPUT)),
             (out, mlmd.Event(type=mlmd.Event.OUTPUT))],
            [mlmd.Context(type_id=pipeline_t, name="shared-pipeline"), mlmd.Context(type_id=pipeline_t, name=f"run-{i}")],
            reuse_context_if_already_exist=True,
        )
    store.sync(60)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
