"""Lineage traversal on a fan-out DAG: hop counting, directions, ending nodes, as-of after re-runs.

Every walk test runs twice: over the in-memory link index (what reads use) and
over the recursive SQL walk (what reads use when the index declines a table
too large to hold); a randomized test checks the two agree everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from mlmd_log import errors
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.query.lineage import BIDIRECTIONAL, DOWNSTREAM, UPSTREAM, Reached, traverse, walk
from mlmd_log.query.lineage_index import LineageIndex

Walker = Callable[..., Reached]


@pytest.fixture(params=["index", "sql"])
def walker(request: pytest.FixtureRequest, store: Any) -> Walker:
    """A lineage walk over ``store`` at a position (None = now): the link index or the SQL walk."""

    def run(position: int | None = None, **kw: Any) -> Reached:
        at = store.log_position() if position is None else position
        if request.param == "sql":
            return traverse(store.con, position=at, **kw)
        snap = LineageIndex().at(store.con, at)
        assert snap is not None
        return walk(snap, position=at, **kw)

    return run


@pytest.fixture
def dag(store: Any) -> dict[str, Any]:
    """raw -> [clean] -> cleaned -> [train x2] -> model_a, model_b ; model_a -> [eval] -> metrics."""
    data_t = store.put_artifact_type(mlmd.ArtifactType(name="Data"))
    step_t = store.put_execution_type(mlmd.ExecutionType(name="Step"))
    raw, = store.put_artifacts([mlmd.Artifact(type_id=data_t, uri="raw")], wait=True)
    ids: dict[str, Any] = {"raw": raw}

    def step(name: str, inputs: list[int], outputs: list[str]) -> None:
        pairs: list[tuple[mlmd.Artifact, mlmd.Event]] = [
            (mlmd.Artifact(id=i, type_id=data_t, uri=_uri(store, i)), mlmd.Event(type=mlmd.Event.INPUT)) for i in inputs
        ]
        pairs += [(mlmd.Artifact(type_id=data_t, uri=o), mlmd.Event(type=mlmd.Event.OUTPUT)) for o in outputs]
        execution_id, artifact_ids, _ = store.put_execution(mlmd.Execution(type_id=step_t, name=name), pairs, [], wait=True)
        ids[name] = execution_id
        for uri, artifact_id in zip(outputs, artifact_ids[len(inputs):], strict=True):
            ids[uri] = artifact_id

    step("clean", [raw], ["cleaned"])
    step("train1", [ids["cleaned"]], ["model_a"])
    step("train2", [ids["cleaned"]], ["model_b"])
    step("eval", [ids["model_a"]], ["metrics"])
    return ids


def _uri(store: Any, artifact_id: int) -> str:
    return str(store.get_artifacts_by_id([artifact_id])[0].uri)


def _walk(walker: Walker, start: int, hops: int, direction: int, **kw: Any) -> tuple[list[int], list[int]]:
    reached = walker(start_kind="artifact", start_ids=[start], max_hops=hops, direction=direction, **kw)
    return reached.artifact_ids, reached.execution_ids


def test_downstream_fan_out_counts_hops_like_mlmd(walker: Walker, dag: dict[str, Any]) -> None:
    assert _walk(walker, dag["raw"], 0, DOWNSTREAM) == ([dag["raw"]], [])
    assert _walk(walker, dag["raw"], 1, DOWNSTREAM) == ([dag["raw"]], [dag["clean"]])
    assert _walk(walker, dag["raw"], 2, DOWNSTREAM) == (sorted([dag["raw"], dag["cleaned"]]), [dag["clean"]])
    artifacts, executions = _walk(walker, dag["raw"], 20, DOWNSTREAM)
    assert set(artifacts) == {dag[k] for k in ("raw", "cleaned", "model_a", "model_b", "metrics")}
    assert set(executions) == {dag[k] for k in ("clean", "train1", "train2", "eval")}


def test_upstream_of_a_model_stops_at_its_own_branch(walker: Walker, dag: dict[str, Any]) -> None:
    artifacts, executions = _walk(walker, dag["model_b"], 20, UPSTREAM)
    assert set(artifacts) == {dag["model_b"], dag["cleaned"], dag["raw"]}
    assert set(executions) == {dag["train2"], dag["clean"]}


def test_ending_nodes_are_reached_but_not_expanded(walker: Walker, dag: dict[str, Any]) -> None:
    artifacts, _ = _walk(walker, dag["raw"], 20, DOWNSTREAM, end_artifacts=[dag["cleaned"]])
    assert artifacts == [dag["raw"]]
    artifacts, _ = _walk(walker, dag["raw"], 20, DOWNSTREAM, end_artifacts=[dag["cleaned"]], include_ending=True)
    assert set(artifacts) == {dag["raw"], dag["cleaned"]}


def test_bidirectional_from_a_sibling_reaches_the_other_branch(walker: Walker, dag: dict[str, Any]) -> None:
    artifacts, _ = _walk(walker, dag["model_b"], 4, BIDIRECTIONAL)
    assert dag["model_a"] in artifacts and dag["raw"] in artifacts  # both 4 hops away, through `cleaned`
    artifacts, _ = _walk(walker, dag["model_b"], 3, BIDIRECTIONAL)
    assert dag["model_a"] not in artifacts and dag["raw"] not in artifacts


def test_lineage_as_of_before_a_rerun(store: Any, walker: Walker, dag: dict[str, Any]) -> None:
    before = store.log_position()
    data_t = store.get_artifact_type("Data").id
    step_t = store.get_execution_type("Step").id
    store.put_execution(
        mlmd.Execution(type_id=step_t, name="train3"),
        [(mlmd.Artifact(id=dag["cleaned"], type_id=data_t, uri="cleaned"), mlmd.Event(type=mlmd.Event.INPUT)),
         (mlmd.Artifact(type_id=data_t, uri="model_c"), mlmd.Event(type=mlmd.Event.OUTPUT))],
        [], wait=True,
    )
    now = walker(start_kind="artifact", start_ids=[dag["cleaned"]], max_hops=2, direction=DOWNSTREAM)
    then = walker(start_kind="artifact", start_ids=[dag["cleaned"]], max_hops=2, direction=DOWNSTREAM,
                  position=before)
    assert len(now.artifact_ids) == len(then.artifact_ids) + 1


def test_lineage_subgraph_argument_errors(store: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Missing arguments for listing starting nodes"):
        store.get_lineage_subgraph(mlmd.LineageSubgraphQueryOptions(max_num_hops=2))
    options = mlmd.LineageSubgraphQueryOptions(max_num_hops=-1)
    options.starting_artifacts.filter_query = "id = 1"
    with pytest.raises(errors.InvalidArgumentError, match="max_num_hops cannot be negative: max_num_hops = -1"):
        store.get_lineage_subgraph(options)


def test_an_unset_direction_traces_both_ways(walker: Walker, dag: dict[str, Any]) -> None:
    both = walker(start_kind="artifact", start_ids=[dag["cleaned"]], max_hops=2, direction=0)
    up, down = (_walk(walker, dag["cleaned"], 2, d) for d in (UPSTREAM, DOWNSTREAM))
    assert set(both.artifact_ids) == set(up[0]) | set(down[0])
    assert set(both.execution_ids) == set(up[1]) | set(down[1])


def _random_dag(store: Any, rng: random.Random, executions: int) -> tuple[list[int], list[int], list[int]]:
    """A random DAG written in several ops; returns artifact ids, execution ids and the position after each op."""
    data_t = store.put_artifact_type(mlmd.ArtifactType(name="Data"))
    step_t = store.put_execution_type(mlmd.ExecutionType(name="Step"))
    artifacts = list(store.put_artifacts([mlmd.Artifact(type_id=data_t, uri=f"seed{i}") for i in range(4)], wait=True))
    execution_ids: list[int] = []
    positions = [store.log_position()]
    for n in range(executions):
        inputs = rng.sample(artifacts, k=min(len(artifacts), rng.randint(1, 3)))
        kinds = [mlmd.Event.INPUT, mlmd.Event.DECLARED_INPUT, mlmd.Event.INTERNAL_INPUT]
        pairs = [(mlmd.Artifact(id=i, type_id=data_t, uri=_uri(store, i)), mlmd.Event(type=rng.choice(kinds)))
                 for i in inputs]
        outs = [mlmd.Event.OUTPUT, mlmd.Event.DECLARED_OUTPUT, mlmd.Event.PENDING_OUTPUT]
        pairs += [(mlmd.Artifact(type_id=data_t, uri=f"out{n}.{k}"), mlmd.Event(type=rng.choice(outs)))
                  for k in range(rng.randint(0, 2))]
        execution_id, ids, _ = store.put_execution(mlmd.Execution(type_id=step_t), pairs, [], wait=True)
        execution_ids.append(execution_id)
        artifacts += ids[len(inputs):]
        positions.append(store.log_position())
    return artifacts, execution_ids, positions


def test_index_walk_equals_sql_walk_on_random_dags_at_every_position(store: Any) -> None:
    rng = random.Random(7)
    artifacts, executions, positions = _random_dag(store, rng, 25)
    index = LineageIndex()
    for _ in range(150):
        position = rng.choice(positions)
        kind = rng.choice(["artifact", "execution"])
        starts = rng.sample(artifacts if kind == "artifact" else executions, k=rng.randint(1, 3))
        kw: dict[str, Any] = {
            "start_kind": kind, "start_ids": starts, "max_hops": rng.randint(0, 8),
            "direction": rng.choice([0, UPSTREAM, DOWNSTREAM, BIDIRECTIONAL]), "position": position,
            "end_artifacts": rng.sample(artifacts, k=rng.randint(0, 3)),
            "end_executions": rng.sample(executions, k=rng.randint(0, 2)),
            "include_ending": rng.random() < 0.5, "max_nodes": rng.choice([3, 10, 100_000]),
        }
        snap = index.at(store.con, position)
        assert snap is not None
        assert walk(snap, **kw) == traverse(store.con, **kw), kw


def _upstream(store: Any, artifact_id: int, hops: int = 10, **kw: Any) -> mlmd.LineageGraph:
    options = mlmd.LineageSubgraphQueryOptions(max_num_hops=hops, direction=UPSTREAM)
    options.starting_artifacts.filter_query = f"id = {artifact_id}"
    return store.get_lineage_subgraph(options, **kw)


def test_lineage_sees_writes_made_after_an_earlier_query(store: Any, dag: dict[str, Any]) -> None:
    first = _upstream(store, dag["metrics"])  # builds the index and caches the events of every execution seen
    before = store.log_position()
    data_t = store.get_artifact_type("Data").id
    # A new input event on an execution whose events are already cached, and a new context for it.
    extra, = store.put_artifacts([mlmd.Artifact(type_id=data_t, uri="extra")], wait=True)
    store.put_events([mlmd.Event(artifact_id=extra, execution_id=dag["eval"], type=mlmd.Event.INPUT)], wait=True)
    ctx_t = store.put_context_type(mlmd.ContextType(name="Run"))
    ctx, = store.put_contexts([mlmd.Context(type_id=ctx_t, name="run-1")], wait=True)
    store.put_attributions_and_associations([], [mlmd.Association(context_id=ctx, execution_id=dag["eval"])], wait=True)
    now = _upstream(store, dag["metrics"])
    assert {a.id for a in now.artifacts} == {a.id for a in first.artifacts} | {extra}
    assert len(now.events) == len(first.events) + 1
    assert [c.name for c in now.contexts] == ["run-1"] and not first.contexts
    then = _upstream(store, dag["metrics"], as_of=before)
    assert then == first


def test_lineage_is_the_same_when_the_index_declines(store: Any, dag: dict[str, Any]) -> None:
    indexed = _upstream(store, dag["metrics"])
    store.links = LineageIndex(max_links=1)  # fewer links than the store holds: reads fall back to SQL
    assert store.links.at(store.con, store.log_position()) is None
    assert _upstream(store, dag["metrics"]) == indexed
