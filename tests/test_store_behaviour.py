"""MLMD write and read behaviour, run against every backend (embedded log and Kafka).

Each test writes through the public API and checks what a reader sees. Calls
that MLMD would reject pass ``wait=True`` so that the Kafka backend raises at
the call, like MLMD (the embedded backend always does).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest

from mlmd_log import errors
from mlmd_log.proto import metadata_store_pb2 as mlmd


@pytest.fixture
def types(store: Any) -> dict[str, int]:
    dataset = mlmd.ArtifactType(name="DataSet")
    dataset.properties["day"] = mlmd.INT
    dataset.properties["split"] = mlmd.STRING
    model = mlmd.ArtifactType(name="Model")
    trainer = mlmd.ExecutionType(name="Trainer")
    trainer.properties["lr"] = mlmd.DOUBLE
    pipeline = mlmd.ContextType(name="Pipeline")
    out = {
        "dataset": store.put_artifact_type(dataset),
        "model": store.put_artifact_type(model),
        "trainer": store.put_execution_type(trainer),
        "pipeline": store.put_context_type(pipeline),
    }
    store.sync()
    return out


def _dataset(type_id: int, uri: str, day: int, **kw: Any) -> mlmd.Artifact:
    artifact = mlmd.Artifact(type_id=type_id, uri=uri, **kw)
    artifact.properties["day"].int_value = day
    return artifact


def test_put_artifacts_returns_ids_in_input_order_and_reads_them_back(store: Any, types: dict[str, int]) -> None:
    ids = store.put_artifacts([_dataset(types["dataset"], f"/data/{i}", i) for i in range(5)])
    store.sync()
    assert len(set(ids)) == 5 and ids == sorted(ids)
    got = store.get_artifacts_by_id([*reversed(ids), ids[0], 999])
    assert [a.id for a in got] == ids  # id order, de-duplicated, missing dropped
    assert [a.uri for a in got] == [f"/data/{i}" for i in range(5)]
    assert [a.properties["day"].int_value for a in got] == list(range(5))
    assert all(a.type == "DataSet" and a.create_time_since_epoch > 0 for a in got)


def test_same_type_registered_twice_gets_the_same_id(store: Any, types: dict[str, int]) -> None:
    again = mlmd.ArtifactType(name="DataSet")
    again.properties["day"] = mlmd.INT
    again.properties["split"] = mlmd.STRING
    assert store.put_artifact_type(again, wait=True) == types["dataset"]
    assert [t.name for t in store.get_artifact_types()] == ["DataSet", "Model"]
    assert store.get_artifact_type("DataSet").properties["day"] == mlmd.INT


def test_type_with_changed_property_type_is_rejected(store: Any, types: dict[str, int]) -> None:
    changed = mlmd.ArtifactType(name="DataSet")
    changed.properties["day"] = mlmd.STRING
    with pytest.raises(errors.AlreadyExistsError, match="^Type already exists with different properties"):
        store.put_artifact_type(changed, can_add_fields=True, can_omit_fields=True, wait=True)
    assert store.get_artifact_type("DataSet").properties["day"] == mlmd.INT


def test_type_can_add_fields_extends_it_and_keeps_history(store: Any, types: dict[str, int]) -> None:
    more = mlmd.ArtifactType(name="DataSet")
    more.properties["rows"] = mlmd.INT
    with pytest.raises(errors.AlreadyExistsError, match="can_add_fields is false"):
        store.put_artifact_type(more, can_omit_fields=True, wait=True)
    store.put_artifact_type(more, can_add_fields=True, can_omit_fields=True, wait=True)
    assert set(store.get_artifact_type("DataSet").properties) == {"day", "split", "rows"}


def test_type_without_name_fails_before_anything_is_appended(store: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="No type name is specified"):
        store.put_artifact_type(mlmd.ArtifactType())
    bad = mlmd.ArtifactType(name="X")
    bad.properties["p"] = mlmd.UNKNOWN
    with pytest.raises(errors.InvalidArgumentError, match="Property p is UNKNOWN"):
        store.put_artifact_type(bad)


def test_artifact_without_type_id_is_refused_at_the_call(store: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=r"^Type id is missing\."):
        store.put_artifacts([mlmd.Artifact(uri="/x")])


def test_property_type_mismatch_rejects_the_whole_batch(store: Any, types: dict[str, int]) -> None:
    good = _dataset(types["dataset"], "/ok", 1)
    bad = mlmd.Artifact(type_id=types["dataset"], uri="/bad")
    bad.properties["day"].string_value = "monday"
    with pytest.raises(errors.InvalidArgumentError, match="^Cannot validate properties of type_id: .*Found unmatched property type: day"):
        store.put_artifacts([good, bad], wait=True)
    assert store.get_artifacts_by_uri("/ok") == []


def test_undeclared_property_is_rejected_but_custom_properties_are_free(store: Any, types: dict[str, int]) -> None:
    bad = mlmd.Artifact(type_id=types["dataset"])
    bad.properties["color"].string_value = "red"
    with pytest.raises(errors.InvalidArgumentError, match="Found unknown property: color"):
        store.put_artifacts([bad], wait=True)
    ok = mlmd.Artifact(type_id=types["dataset"])
    ok.custom_properties["color"].string_value = "red"
    (artifact_id,) = store.put_artifacts([ok], wait=True)
    assert store.get_artifacts_by_id([artifact_id])[0].custom_properties["color"].string_value == "red"


def test_unknown_type_id_is_not_found(store: Any) -> None:
    with pytest.raises(errors.NotFoundError, match="^Cannot find type for type_id: 12345"):
        store.put_artifacts([mlmd.Artifact(type_id=12345)], wait=True)


def test_duplicate_name_within_a_type_is_rejected(store: Any, types: dict[str, int]) -> None:
    store.put_artifacts([_dataset(types["dataset"], "/a", 1, name="train")], wait=True)
    with pytest.raises(errors.AlreadyExistsError, match="^Given node already exists"):
        store.put_artifacts([_dataset(types["dataset"], "/b", 2, name="train")], wait=True)
    found = store.get_artifact_by_type_and_name("DataSet", "train")
    assert found is not None and found.uri == "/a"
    assert store.get_artifact_by_type_and_name("DataSet", "nope") is None


def test_update_replaces_the_whole_node_and_keeps_every_version(store: Any, types: dict[str, int]) -> None:
    artifact = _dataset(types["dataset"], "/v1", 1, name="d")
    artifact.custom_properties["note"].string_value = "first"
    (artifact_id,) = store.put_artifacts([artifact], wait=True)
    first = store.get_artifacts_by_id([artifact_id])[0]
    position = store.log_position()
    update = mlmd.Artifact(id=artifact_id, name="renamed")
    update.properties["day"].int_value = 2
    store.put_artifacts([update], wait=True)
    now = store.get_artifacts_by_id([artifact_id])[0]
    assert now.uri == ""  # MLMD: a whole-message update drops what it does not carry
    assert now.name == "d"  # artifact names are immutable
    assert "note" not in now.custom_properties
    assert now.properties["day"].int_value == 2
    assert now.create_time_since_epoch == first.create_time_since_epoch
    then = store.get_artifacts_by_id([artifact_id], as_of=position)[0]
    assert then.uri == "/v1" and then.properties["day"].int_value == 1
    assert then.custom_properties["note"].string_value == "first"


def test_field_mask_updates_only_the_named_paths(store: Any, types: dict[str, int]) -> None:
    artifact = _dataset(types["dataset"], "/keep", 1)
    artifact.properties["split"].string_value = "train"
    (artifact_id,) = store.put_artifacts([artifact], wait=True)
    update = mlmd.Artifact(id=artifact_id)
    update.properties["day"].int_value = 9
    store.put_artifacts([update], field_mask_paths=["properties.day", "properties.split"], wait=True)
    got = store.get_artifacts_by_id([artifact_id])[0]
    assert got.uri == "/keep"
    assert got.properties["day"].int_value == 9
    assert "split" not in got.properties  # masked but absent: deleted


def test_update_of_unknown_id_or_other_type_is_invalid(store: Any, types: dict[str, int]) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="^Cannot find the given id 424242"):
        store.put_artifacts([mlmd.Artifact(id=424242, type_id=types["dataset"])], wait=True)
    (artifact_id,) = store.put_artifacts([_dataset(types["dataset"], "/x", 1)], wait=True)
    with pytest.raises(errors.InvalidArgumentError, match="^Given type_id .* is different from the one known before"):
        store.put_artifacts([mlmd.Artifact(id=artifact_id, type_id=types["model"])], wait=True)


def test_identical_reput_leaves_the_node_unchanged(store: Any, types: dict[str, int]) -> None:
    artifact = _dataset(types["dataset"], "/same", 1)
    (artifact_id,) = store.put_artifacts([artifact], wait=True)
    before = store.get_artifacts_by_id([artifact_id])[0]
    artifact.id = artifact_id
    store.put_artifacts([artifact], wait=True)
    assert store.get_artifacts_by_id([artifact_id])[0] == before


def test_context_needs_a_name(store: Any, types: dict[str, int]) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Context name should not be empty"):
        store.put_contexts([mlmd.Context(type_id=types["pipeline"])])


def test_events_link_executions_and_artifacts(store: Any, types: dict[str, int]) -> None:
    (data,) = store.put_artifacts([_dataset(types["dataset"], "/in", 1)])
    (run,) = store.put_executions([mlmd.Execution(type_id=types["trainer"])])
    store.put_events([mlmd.Event(artifact_id=data, execution_id=run, type=mlmd.Event.INPUT)], wait=True)
    events = store.get_events_by_execution_ids([run])
    assert [(e.artifact_id, e.execution_id, e.type) for e in events] == [(data, run, mlmd.Event.INPUT)]
    assert store.get_events_by_artifact_ids([data]) == events
    with pytest.raises(errors.AlreadyExistsError, match="^Given event already exists"):
        store.put_events([mlmd.Event(artifact_id=data, execution_id=run, type=mlmd.Event.INPUT)], wait=True)
    with pytest.raises(errors.InvalidArgumentError, match="^No artifact with the given id 99999"):
        store.put_events([mlmd.Event(artifact_id=99999, execution_id=run, type=mlmd.Event.INPUT)], wait=True)
    with pytest.raises(errors.InvalidArgumentError, match=r"^No event type is specified\."):
        store.put_events([mlmd.Event(artifact_id=data, execution_id=run)])


def test_put_execution_is_atomic_and_links_everything(store: Any, types: dict[str, int]) -> None:
    (data,) = store.put_artifacts([_dataset(types["dataset"], "/train", 1)])
    execution = mlmd.Execution(type_id=types["trainer"], last_known_state=mlmd.Execution.COMPLETE)
    execution.properties["lr"].double_value = 0.1
    model = mlmd.Artifact(type_id=types["model"], uri="/model")
    run, (model_id,), (ctx,) = store.put_execution(
        execution,
        [(model, mlmd.Event(type=mlmd.Event.OUTPUT))],
        [mlmd.Context(type_id=types["pipeline"], name="nightly")],
        wait=True,
    )
    store.put_events([mlmd.Event(artifact_id=data, execution_id=run, type=mlmd.Event.INPUT)], wait=True)
    assert [a.id for a in store.get_artifacts_by_context(ctx)] == [model_id]
    assert [e.id for e in store.get_executions_by_context(ctx)] == [run]
    assert [c.name for c in store.get_contexts_by_artifact(model_id)] == ["nightly"]
    # A failing second call (duplicate context without reuse) changes nothing at all.
    with pytest.raises(errors.AlreadyExistsError):
        store.put_execution(
            mlmd.Execution(type_id=types["trainer"]),
            [(mlmd.Artifact(type_id=types["model"], uri="/model2"), mlmd.Event(type=mlmd.Event.OUTPUT))],
            [mlmd.Context(type_id=types["pipeline"], name="nightly")],
            wait=True,
        )
    assert store.get_artifacts_by_uri("/model2") == []
    assert len(store.get_executions()) == 1
    # With reuse, the same-named context is reused.
    _, _, (again,) = store.put_execution(
        mlmd.Execution(type_id=types["trainer"]), [], [mlmd.Context(type_id=types["pipeline"], name="nightly")],
        reuse_context_if_already_exist=True, wait=True,
    )
    assert [c.id for c in store.get_contexts_by_id([again])] == [ctx]
    assert len(store.get_executions_by_context(ctx)) == 2


def test_put_lineage_subgraph_writes_nodes_edges_and_links(store: Any, types: dict[str, int]) -> None:
    executions, artifacts, contexts = store.put_lineage_subgraph(
        [mlmd.Execution(type_id=types["trainer"])],
        [_dataset(types["dataset"], "/d", 1), mlmd.Artifact(type_id=types["model"], uri="/m")],
        [mlmd.Context(type_id=types["pipeline"], name="p")],
        [(0, 0, mlmd.Event(type=mlmd.Event.INPUT)), (0, 1, mlmd.Event(type=mlmd.Event.OUTPUT))],
        wait=True,
    )
    events = store.get_events_by_execution_ids(executions)
    assert sorted((e.artifact_id, e.type) for e in events) == [
        (artifacts[0], mlmd.Event.INPUT), (artifacts[1], mlmd.Event.OUTPUT),
    ]
    assert {a.id for a in store.get_artifacts_by_context(contexts[0])} == set(artifacts)
    with pytest.raises(errors.OutOfRangeError, match="^The event_edge has an execution_index 5"):
        store.put_lineage_subgraph([], [], [], [(5, 0, mlmd.Event(type=mlmd.Event.INPUT))])


def test_attributions_are_idempotent_and_check_their_ends(store: Any, types: dict[str, int]) -> None:
    (data,) = store.put_artifacts([_dataset(types["dataset"], "/d", 1)])
    (ctx,) = store.put_contexts([mlmd.Context(type_id=types["pipeline"], name="c")])
    link = mlmd.Attribution(artifact_id=data, context_id=ctx)
    store.put_attributions_and_associations([link, link], [], wait=True)
    store.put_attributions_and_associations([link], [], wait=True)
    assert [a.id for a in store.get_artifacts_by_context(ctx)] == [data]
    with pytest.raises(errors.InvalidArgumentError, match=r"^Context id not found\."):
        store.put_attributions_and_associations([mlmd.Attribution(artifact_id=data, context_id=77)], [], wait=True)


def test_parent_contexts_reject_self_loops_duplicates_and_cycles(store: Any, types: dict[str, int]) -> None:
    a, b, c = store.put_contexts([mlmd.Context(type_id=types["pipeline"], name=n) for n in "abc"])
    store.put_parent_contexts([mlmd.ParentContext(child_id=b, parent_id=a), mlmd.ParentContext(child_id=c, parent_id=b)], wait=True)
    assert [x.id for x in store.get_parent_contexts_by_context(b)] == [a]
    assert [x.id for x in store.get_children_contexts_by_context(b)] == [c]
    with pytest.raises(errors.InvalidArgumentError, match="^Given parent / child id in the parent_context cannot be found"):
        store.put_parent_contexts([mlmd.ParentContext(child_id=a, parent_id=a)], wait=True)
    with pytest.raises(errors.AlreadyExistsError, match="^Given parent_context already exists"):
        store.put_parent_contexts([mlmd.ParentContext(child_id=b, parent_id=a)], wait=True)
    with pytest.raises(errors.InvalidArgumentError, match="^There is a cycle detected of the given relationship"):
        store.put_parent_contexts([mlmd.ParentContext(child_id=a, parent_id=c)], wait=True)


def test_reads_by_type_external_id_and_unknown_type(store: Any, types: dict[str, int]) -> None:
    store.put_artifacts([_dataset(types["dataset"], "/1", 1, external_id="ext-1"), mlmd.Artifact(type_id=types["model"])], wait=True)
    assert [a.uri for a in store.get_artifacts_by_type("DataSet")] == ["/1"]
    assert store.get_artifacts_by_type("NoSuchType") == []
    assert [a.uri for a in store.get_artifacts_by_external_ids(["ext-1", "missing"])] == ["/1"]
    with pytest.raises(errors.AlreadyExistsError):
        store.put_artifacts([_dataset(types["dataset"], "/2", 2, external_id="ext-1")], wait=True)
    with pytest.raises(errors.NotFoundError, match="^No type found for query, name: `Nope`"):
        store.get_artifact_type("Nope")
    assert store.get_artifact_type("mlmd.Dataset").id == 1  # MLMD's hidden simple types


def test_as_of_a_position_beyond_the_projection_is_out_of_range(store: Any, types: dict[str, int]) -> None:
    with pytest.raises(errors.OutOfRangeError):
        store.get_artifacts(as_of=10**9)


def test_list_options_limit_and_order(store: Any, types: dict[str, int]) -> None:
    ids = store.put_artifacts([_dataset(types["dataset"], f"/{i}", i) for i in range(5)], wait=True)
    from mlmd_log import ListOptions, OrderByField

    got = store.get_artifacts(ListOptions(limit=2, order_by=OrderByField.ID, is_asc=False))
    assert [a.id for a in got] == ids[::-1][:2]
    with pytest.raises(errors.InvalidArgumentError, match="list_options.limit is expected to be greater than 1"):
        ListOptions(limit=-1)


def test_op_larger_than_the_limit_is_refused_with_its_size(store_factory: Any, types_factory: Any) -> None:
    store = store_factory(max_op_bytes=2_000)
    type_ids = types_factory(store)
    big = mlmd.Artifact(type_id=type_ids["dataset"], uri="x" * 5_000)
    with pytest.raises(errors.OpTooLargeError, match="put_artifacts: the op encodes to"):
        store.put_artifacts([big])


def test_rejected_embedded_call_appends_nothing_to_the_log(tmp_path: Any) -> None:
    import mlmd_log

    store = mlmd_log.connect(f"duckdb:///{tmp_path}/m.duckdb")
    t = mlmd.ArtifactType(name="T")
    t.properties["n"] = mlmd.INT
    type_id = store.put_artifact_type(t)
    store.put_artifacts([mlmd.Artifact(type_id=type_id)])  # leases this producer's id block
    before = store.log_position()
    bad = mlmd.Artifact(type_id=type_id)
    bad.properties["n"].string_value = "x"
    with pytest.raises(errors.InvalidArgumentError):
        store.put_artifacts([bad])
    assert store.log_position() == before
    store.close()


def test_embedded_replay_rebuilds_identical_tables(tmp_path: Any) -> None:
    import mlmd_log

    store = mlmd_log.connect(f"duckdb:///{tmp_path}/m.duckdb")
    t = mlmd.ArtifactType(name="T")
    t.properties["n"] = mlmd.INT
    type_id = store.put_artifact_type(t)
    ids = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}") for i in range(10)])
    update = mlmd.Artifact(id=ids[0], uri="/changed")
    update.properties["n"].int_value = 1
    store.put_artifacts([update])
    (ctx_type,) = [store.put_context_type(mlmd.ContextType(name="C"))]
    (ctx,) = store.put_contexts([mlmd.Context(type_id=ctx_type, name="c")])
    store.put_attributions_and_associations([mlmd.Attribution(artifact_id=i, context_id=ctx) for i in ids], [])
    tables = ["artifact_versions", "artifact_property_versions", "context_versions", "attribution_versions",
              "type_versions", "type_property_versions", "op_archive", "checkpoint"]
    before = {t: _table(store, t) for t in tables}
    assert store.replay() == store.log_position() + 1
    after = {t: _table(store, t) for t in tables}
    assert before == after
    store.close()


def test_reopening_an_embedded_file_keeps_everything_and_leases_new_ids(tmp_path: Any) -> None:
    import mlmd_log

    url = f"duckdb:///{tmp_path}/m.duckdb"
    with mlmd_log.connect(url) as store:
        type_id = store.put_artifact_type(mlmd.ArtifactType(name="T"))
        first = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/a")])
    with mlmd_log.connect(url) as store:
        second = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/b")])
        assert set(first).isdisjoint(second)
        assert [a.uri for a in store.get_artifacts()] == ["/a", "/b"]


def test_second_process_on_the_same_file_gets_a_typed_error(tmp_path: Any) -> None:
    import subprocess
    import sys

    import mlmd_log

    path = f"{tmp_path}/m.duckdb"
    with mlmd_log.connect(f"duckdb:///{path}"):
        code = (
            "import mlmd_log, sys\n"
            "try:\n"
            f"    mlmd_log.connect('duckdb:///{path}')\n"
            "except mlmd_log.errors.DatabaseLockedError as e:\n"
            "    print('locked:', e); sys.exit(3)\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "owned by another process" in result.stdout


def _table(store: Any, table: str) -> list[tuple[Any, ...]]:
    """Every row of a projection table, in a stable order (the invariant compares tables, not API answers)."""
    rows: list[tuple[Any, ...]] = store._con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    return rows


@pytest.fixture
def types_factory() -> Iterator[Any]:
    def make(store: Any) -> dict[str, int]:
        dataset = mlmd.ArtifactType(name="DataSet")
        dataset.properties["day"] = mlmd.INT
        return {"dataset": store.put_artifact_type(dataset, wait=True)}

    yield make


def test_failing_lineage_subgraph_writes_nothing(store: Any, types: dict[str, int]) -> None:
    store.put_artifacts([_dataset(types["dataset"], "/taken", 1, name="taken")], wait=True)
    with pytest.raises(errors.AlreadyExistsError):
        store.put_lineage_subgraph(
            [mlmd.Execution(type_id=types["trainer"])],
            [mlmd.Artifact(type_id=types["model"], uri="/m"), _dataset(types["dataset"], "/dup", 2, name="taken")],
            [mlmd.Context(type_id=types["pipeline"], name="never")],
            [(0, 0, mlmd.Event(type=mlmd.Event.OUTPUT))],
            wait=True,
        )
    assert store.get_artifacts_by_uri("/m") == []
    assert store.get_executions() == []
    assert store.get_contexts() == []


def test_contexts_and_executions_update_with_masks(store: Any, types: dict[str, int]) -> None:
    (ctx,) = store.put_contexts([mlmd.Context(type_id=types["pipeline"], name="old")])
    store.put_contexts([mlmd.Context(id=ctx, name="new")], wait=True)  # context names are updatable
    assert store.get_context_by_type_and_name("Pipeline", "new").id == ctx
    assert store.get_context_by_type_and_name("Pipeline", "old") is None
    execution = mlmd.Execution(type_id=types["trainer"], last_known_state=mlmd.Execution.RUNNING)
    execution.properties["lr"].double_value = 0.5
    (run,) = store.put_executions([execution])
    store.put_executions(
        [mlmd.Execution(id=run, last_known_state=mlmd.Execution.COMPLETE)], field_mask_paths=["last_known_state"],
        wait=True,
    )
    (got,) = store.get_executions_by_id([run])
    assert got.last_known_state == mlmd.Execution.COMPLETE
    assert got.properties["lr"].double_value == 0.5


def test_put_types_registers_all_or_nothing(store: Any) -> None:
    from mlmd_log.proto import metadata_store_service_pb2 as svc

    request = svc.PutTypesRequest()
    request.artifact_types.add(name="A")
    request.execution_types.add(name="E")
    response = store.put_types(request, wait=True)
    assert store.get_artifact_type("A").id == response.artifact_type_ids[0]
    assert store.get_execution_type("E").id == response.execution_type_ids[0]
    bad = svc.PutTypesRequest()
    bad.artifact_types.add(name="B")
    changed = bad.execution_types.add(name="E")
    changed.properties["p"] = mlmd.INT
    with pytest.raises(errors.AlreadyExistsError):
        store.put_types(bad, wait=True)
    with pytest.raises(errors.NotFoundError):
        store.get_artifact_type("B")


def test_paging_never_repeats_or_skips_while_writes_continue(store: Any, types: dict[str, int]) -> None:
    from mlmd_log import ListOptions, OrderByField

    ids = store.put_artifacts([_dataset(types["dataset"], f"/{i}", i) for i in range(25)], wait=True)
    options = ListOptions(limit=10, order_by=OrderByField.CREATE_TIME, is_asc=False)
    seen: list[int] = []
    page, token = store.get_nodes_page("artifact", options)
    seen += [a.id for a in page]
    while token is not None:
        store.put_artifacts([_dataset(types["dataset"], "/late", 99)], wait=True)  # lands between pages
        update = _dataset(types["dataset"], "/moved", 1)
        update.id = ids[0]
        store.put_artifacts([update], wait=True)  # changes the update time of a listed row
        page, token = store.get_nodes_page("artifact", options, token)
        seen += [a.id for a in page]
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen)) == 25


def test_a_page_token_for_another_query_or_a_forged_one_is_refused(store: Any, types: dict[str, int]) -> None:
    from mlmd_log import ListOptions

    store.put_artifacts([_dataset(types["dataset"], f"/{i}", i) for i in range(3)], wait=True)
    _, token = store.get_nodes_page("artifact", ListOptions(limit=1))
    assert token is not None
    with pytest.raises(errors.InvalidArgumentError, match="different query"):
        store.get_nodes_page("execution", ListOptions(limit=1), token)
    with pytest.raises(errors.InvalidArgumentError, match="Invalid next_page_token"):
        store.get_nodes_page("artifact", ListOptions(limit=1), "bm90IGEgdG9rZW4")


def test_changing_a_returned_node_changes_nothing_stored(store: Any, types: dict[str, int]) -> None:
    (artifact_id,) = store.put_artifacts([_dataset(types["dataset"], "/orig", 1)], wait=True)
    got = store.get_artifacts_by_id([artifact_id])[0]
    got.uri = "/mutated"
    got.properties["day"].int_value = 42
    again = store.get_artifacts_by_id([artifact_id])[0]
    assert again.uri == "/orig" and again.properties["day"].int_value == 1


def test_point_gets_see_every_committed_update(store: Any, types: dict[str, int]) -> None:
    (artifact_id,) = store.put_artifacts([_dataset(types["dataset"], "/0", 0)], wait=True)
    for i in range(1, 6):
        assert store.get_artifacts_by_id([artifact_id])[0].uri == f"/{i - 1}"
        update = _dataset(types["dataset"], f"/{i}", i)
        update.id = artifact_id
        store.put_artifacts([update], wait=True)
    assert store.get_artifacts_by_id([artifact_id])[0].properties["day"].int_value == 5


def test_artifacts_with_their_types_and_batched_context_edges(store: Any, types: dict[str, int]) -> None:
    data, model = store.put_artifacts([_dataset(types["dataset"], "/d", 1), mlmd.Artifact(type_id=types["model"])])
    a, b = store.put_contexts([mlmd.Context(type_id=types["pipeline"], name=n) for n in "ab"])
    store.put_parent_contexts([mlmd.ParentContext(child_id=b, parent_id=a)], wait=True)
    pairs = store.get_artifacts_and_types_by_artifact_ids([model, data])
    assert [(x.id, t.name) for x, t in pairs] == [(data, "DataSet"), (model, "Model")]
    assert {k: [c.id for c in v] for k, v in store.get_parent_contexts_by_contexts([a, b]).items()} == {b: [a]}
    assert {k: [c.id for c in v] for k, v in store.get_children_contexts_by_contexts([a, b]).items()} == {a: [b]}


def test_as_of_a_time_sees_what_a_reader_saw_then(store: Any, types: dict[str, int]) -> None:
    import time
    from datetime import datetime

    (artifact_id,) = store.put_artifacts([_dataset(types["dataset"], "/then", 1)], wait=True)
    (ctx,) = store.put_contexts([mlmd.Context(type_id=types["pipeline"], name="c")], wait=True)
    time.sleep(0.05)
    moment = datetime.now(UTC)
    time.sleep(0.05)
    update = _dataset(types["dataset"], "/now", 2)
    update.id = artifact_id
    store.put_artifacts([update])
    store.put_attributions_and_associations([mlmd.Attribution(artifact_id=artifact_id, context_id=ctx)], [], wait=True)
    assert store.get_artifacts_by_id([artifact_id], as_of=moment)[0].uri == "/then"
    assert store.get_artifacts_by_context(ctx, as_of=moment) == []
    assert [a.uri for a in store.get_artifacts_by_context(ctx)] == ["/now"]
    with pytest.raises(errors.InvalidArgumentError, match="timezone-aware"):
        store.get_artifacts(as_of=datetime(2020, 1, 1))


def test_reused_context_and_artifact_come_back_with_their_existing_ids(store: Any, types: dict[str, int]) -> None:
    existing = _dataset(types["dataset"], "/in", 1, external_id="data-1")
    _, (artifact_id,), (ctx,) = store.put_execution(
        mlmd.Execution(type_id=types["trainer"]), [(existing, mlmd.Event(type=mlmd.Event.INPUT))],
        [mlmd.Context(type_id=types["pipeline"], name="p")], wait=True,
    )
    again = _dataset(types["dataset"], "/in", 1, external_id="data-1")
    _, (artifact_again,), (ctx_again,) = store.put_execution(
        mlmd.Execution(type_id=types["trainer"]), [(again, mlmd.Event(type=mlmd.Event.INPUT))],
        [mlmd.Context(type_id=types["pipeline"], name="p")],
        reuse_context_if_already_exist=True, reuse_artifact_if_already_exist_by_external_id=True, wait=True,
    )
    assert (artifact_again, ctx_again) == (artifact_id, ctx)


def test_reputting_a_type_with_an_external_id_records_it(store: Any, types: dict[str, int]) -> None:
    again = mlmd.ArtifactType(name="Model", external_id="ext-model")
    assert store.put_artifact_type(again, can_add_fields=True, wait=True) == types["model"]
    assert store.get_artifact_type("Model").external_id == "ext-model"
    assert [t.name for t in store.get_artifact_types_by_external_ids(["ext-model"])] == ["Model"]


def test_force_reuse_context_links_an_existing_context_without_changing_it(store: Any, types: dict[str, int]) -> None:
    (ctx,) = store.put_contexts([mlmd.Context(type_id=types["pipeline"], name="keep")], wait=True)
    run, _, (linked,) = store.put_execution(
        mlmd.Execution(type_id=types["trainer"]), [], [mlmd.Context(id=ctx, type_id=types["pipeline"], name="changed")],
        force_reuse_context=True, wait=True,
    )
    assert linked == ctx
    assert store.get_contexts_by_id([ctx])[0].name == "keep"
    assert [e.id for e in store.get_executions_by_context(ctx)] == [run]


def test_filter_query_with_paging_and_as_of(store: Any, types: dict[str, int]) -> None:
    from mlmd_log import ListOptions

    ids = store.put_artifacts([_dataset(types["dataset"], f"/{i}", i) for i in range(30)], wait=True)
    (ctx,) = store.put_contexts([mlmd.Context(type_id=types["pipeline"], name="nightly")], wait=True)
    store.put_attributions_and_associations(
        [mlmd.Attribution(artifact_id=i, context_id=ctx) for i in ids[:10]], [], wait=True
    )
    before = store.log_position()
    update = _dataset(types["dataset"], "/0", 100)
    update.id = ids[0]
    store.put_artifacts([update], wait=True)
    query = "properties.day.int_value >= 5 AND contexts_a.name = 'nightly'"
    seen, token = [], None
    while True:
        page, token = store.get_nodes_page("artifact", ListOptions(limit=2, filter_query=query), token)
        seen += [a.id for a in page]
        if token is None:
            break
    assert seen == [ids[0], *ids[5:10]]
    then = store.get_artifacts(ListOptions(filter_query=query), as_of=before)
    assert [a.id for a in then] == ids[5:10]
    with pytest.raises(errors.InvalidArgumentError, match="^Invalid `filter_query`: "):
        store.get_artifacts(ListOptions(filter_query="properties.day.int_value = 'x'"))


def test_lineage_subgraph_from_a_filter(store: Any, types: dict[str, int]) -> None:
    run, (data, model), _ = store.put_execution(
        mlmd.Execution(type_id=types["trainer"]),
        [(_dataset(types["dataset"], "/d", 1), mlmd.Event(type=mlmd.Event.INPUT)),
         (mlmd.Artifact(type_id=types["model"], uri="/m"), mlmd.Event(type=mlmd.Event.OUTPUT))],
        [mlmd.Context(type_id=types["pipeline"], name="p")], wait=True,
    )
    options = mlmd.LineageSubgraphQueryOptions(max_num_hops=2, direction=mlmd.LineageSubgraphQueryOptions.UPSTREAM)
    options.starting_artifacts.filter_query = "uri = '/m'"
    graph = store.get_lineage_subgraph(options)
    assert sorted(a.id for a in graph.artifacts) == sorted([data, model])
    assert [e.id for e in graph.executions] == [run]
    assert len(graph.events) == 2 and [c.name for c in graph.contexts] == ["p"]
    assert {t.name for t in graph.artifact_types} == {"DataSet", "Model"}
    only_nodes = store.get_lineage_subgraph(options, field_mask_paths=["artifacts"])
    assert len(only_nodes.artifacts) == 2 and not only_nodes.events and not only_nodes.executions


def test_lineage_graph_types_follow_a_type_change(store: Any, types: dict[str, int]) -> None:
    store.put_execution(
        mlmd.Execution(type_id=types["trainer"]), [(mlmd.Artifact(type_id=types["model"], uri="/m"),
                                                     mlmd.Event(type=mlmd.Event.OUTPUT))], [], wait=True,
    )
    options = mlmd.LineageSubgraphQueryOptions(max_num_hops=1)
    options.starting_artifacts.filter_query = "uri = '/m'"
    before = store.get_lineage_subgraph(options)
    assert [dict(t.properties) for t in before.artifact_types] == [{}]
    grown = mlmd.ArtifactType(name="Model")
    grown.properties["framework"] = mlmd.STRING
    store.put_artifact_type(grown, can_add_fields=True, wait=True)
    after = store.get_lineage_subgraph(options)
    assert [dict(t.properties) for t in after.artifact_types] == [{"framework": mlmd.STRING}]
    then = store.get_lineage_subgraph(options, as_of=store.log_position() - 1)
    assert [dict(t.properties) for t in then.artifact_types] == [{}]
