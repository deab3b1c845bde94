"""Read-your-writes: once a write returns (embedded, or ``wait=True`` on Kafka), every kind of read sees it.

The orchestrator's shape: one small ``put_execution``, then a read, again and again; each read comes right
after the write it must see (no sleep, no sync in between), and the ops go on updating what was read.
"""

from __future__ import annotations

from typing import Any

from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.query.options import ListOptions


def _step(store: Any, types: tuple[int, int, int], i: int, context_id: int | None) -> tuple[int, list[int], int]:
    artifact_type, execution_type, context_type = types
    execution = mlmd.Execution(type_id=execution_type, last_known_state=mlmd.Execution.COMPLETE)
    execution.custom_properties["step"].int_value = i
    source = mlmd.Artifact(type_id=artifact_type, uri=f"/in/{i}")
    output = mlmd.Artifact(type_id=artifact_type, uri=f"/out/{i}")
    output.custom_properties["step"].int_value = i
    context = mlmd.Context(type_id=context_type, name="run")
    if context_id is not None:
        context.id = context_id
    execution_id, artifact_ids, (ctx,) = store.put_execution(
        execution, [(source, mlmd.Event(type=mlmd.Event.INPUT)), (output, mlmd.Event(type=mlmd.Event.OUTPUT))],
        [context], wait=True,
    )
    return execution_id, artifact_ids, ctx


def test_every_kind_of_read_sees_the_write_just_returned(store: Any) -> None:
    types = (
        store.put_artifact_type(mlmd.ArtifactType(name="Data")),
        store.put_execution_type(mlmd.ExecutionType(name="Step")),
        store.put_context_type(mlmd.ContextType(name="Run")),
    )
    context_id = None
    for i in range(6):
        execution_id, (source_id, output_id), context_id = _step(store, types, i, context_id)
        [execution] = store.get_executions_by_id([execution_id])
        assert execution.custom_properties["step"].int_value == i
        events = store.get_events_by_execution_ids([execution_id])
        assert sorted((e.artifact_id, e.type) for e in events) == sorted(
            [(source_id, mlmd.Event.INPUT), (output_id, mlmd.Event.OUTPUT)]
        )
        assert [a.id for a in store.get_artifacts_by_id([output_id])] == [output_id]
        assert len(store.get_executions()) == i + 1  # listing
        assert len(store.get_artifacts_by_context(context_id)) == 2 * (i + 1)  # context membership
        assert [a.id for a in store.get_artifacts(
            list_options=_filter(f"uri = '/out/{i}'")
        )] == [output_id]  # filter_query
        graph = store.get_lineage_subgraph(_lineage(output_id))
        assert {a.id for a in graph.artifacts} == {source_id, output_id}  # lineage
        assert execution_id in {e.id for e in graph.executions}
        assert store.get_history("execution", execution_id)[-1].valid_from == store.log_position()  # history
        count = store.sql("SELECT count(*) AS n FROM executions").column("n")[0].as_py()
        assert count == i + 1  # sql()
        at = store.log_position()
        assert [e.id for e in store.get_executions_by_id([execution_id], as_of=at)] == [execution_id]  # as_of
        assert store.get_executions_by_id([execution_id], as_of=at - 1) == []


def _filter(query: str) -> ListOptions:
    return ListOptions(filter_query=query)


def _lineage(artifact_id: int) -> Any:
    options = mlmd.LineageSubgraphQueryOptions()
    options.starting_artifacts.filter_query = f"id = {artifact_id}"
    options.max_num_hops = 2
    return options
