"""Lineage traversal on a fan-out DAG: hop counting, directions, ending nodes, as-of after re-runs."""

from __future__ import annotations

from typing import Any

import pytest

from mlmd_log import errors
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.query.lineage import BIDIRECTIONAL, DOWNSTREAM, UPSTREAM, traverse


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


def _walk(store: Any, start: int, hops: int, direction: int, **kw: Any) -> tuple[list[int], list[int]]:
    reached = traverse(store.con, start_kind="artifact", start_ids=[start], max_hops=hops, direction=direction,
                       position=None, **kw)
    return reached.artifact_ids, reached.execution_ids


def test_downstream_fan_out_counts_hops_like_mlmd(store: Any, dag: dict[str, Any]) -> None:
    assert _walk(store, dag["raw"], 0, DOWNSTREAM) == ([dag["raw"]], [])
    assert _walk(store, dag["raw"], 1, DOWNSTREAM) == ([dag["raw"]], [dag["clean"]])
    assert _walk(store, dag["raw"], 2, DOWNSTREAM) == (sorted([dag["raw"], dag["cleaned"]]), [dag["clean"]])
    artifacts, executions = _walk(store, dag["raw"], 20, DOWNSTREAM)
    assert set(artifacts) == {dag[k] for k in ("raw", "cleaned", "model_a", "model_b", "metrics")}
    assert set(executions) == {dag[k] for k in ("clean", "train1", "train2", "eval")}


def test_upstream_of_a_model_stops_at_its_own_branch(store: Any, dag: dict[str, Any]) -> None:
    artifacts, executions = _walk(store, dag["model_b"], 20, UPSTREAM)
    assert set(artifacts) == {dag["model_b"], dag["cleaned"], dag["raw"]}
    assert set(executions) == {dag["train2"], dag["clean"]}


def test_ending_nodes_are_reached_but_not_expanded(store: Any, dag: dict[str, Any]) -> None:
    artifacts, _ = _walk(store, dag["raw"], 20, DOWNSTREAM, end_artifacts=[dag["cleaned"]])
    assert artifacts == [dag["raw"]]
    artifacts, _ = _walk(store, dag["raw"], 20, DOWNSTREAM, end_artifacts=[dag["cleaned"]], include_ending=True)
    assert set(artifacts) == {dag["raw"], dag["cleaned"]}


def test_bidirectional_from_a_sibling_reaches_the_other_branch(store: Any, dag: dict[str, Any]) -> None:
    artifacts, _ = _walk(store, dag["model_b"], 4, BIDIRECTIONAL)
    assert dag["model_a"] in artifacts and dag["raw"] in artifacts  # both 4 hops away, through `cleaned`
    artifacts, _ = _walk(store, dag["model_b"], 3, BIDIRECTIONAL)
    assert dag["model_a"] not in artifacts and dag["raw"] not in artifacts


def test_lineage_as_of_before_a_rerun(store: Any, dag: dict[str, Any]) -> None:
    before = store.log_position()
    data_t = store.get_artifact_type("Data").id
    step_t = store.get_execution_type("Step").id
    store.put_execution(
        mlmd.Execution(type_id=step_t, name="train3"),
        [(mlmd.Artifact(id=dag["cleaned"], type_id=data_t, uri="cleaned"), mlmd.Event(type=mlmd.Event.INPUT)),
         (mlmd.Artifact(type_id=data_t, uri="model_c"), mlmd.Event(type=mlmd.Event.OUTPUT))],
        [], wait=True,
    )
    now = traverse(store.con, start_kind="artifact", start_ids=[dag["cleaned"]], max_hops=2, direction=DOWNSTREAM,
                   position=None)
    then = traverse(store.con, start_kind="artifact", start_ids=[dag["cleaned"]], max_hops=2, direction=DOWNSTREAM,
                    position=before)
    assert len(now.artifact_ids) == len(then.artifact_ids) + 1


def test_lineage_subgraph_argument_errors(store: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Missing arguments for listing starting nodes"):
        store.get_lineage_subgraph(mlmd.LineageSubgraphQueryOptions(max_num_hops=2))
    options = mlmd.LineageSubgraphQueryOptions(max_num_hops=-1)
    options.starting_artifacts.filter_query = "id = 1"
    with pytest.raises(errors.InvalidArgumentError, match="max_num_hops cannot be negative: max_num_hops = -1"):
        store.get_lineage_subgraph(options)


def test_an_unset_direction_traces_both_ways(store: Any, dag: dict[str, Any]) -> None:
    both = traverse(store.con, start_kind="artifact", start_ids=[dag["cleaned"]], max_hops=2, direction=0, position=None)
    up, down = (_walk(store, dag["cleaned"], 2, d) for d in (UPSTREAM, DOWNSTREAM))
    assert set(both.artifact_ids) == set(up[0]) | set(down[0])
    assert set(both.execution_ids) == set(up[1]) | set(down[1])
