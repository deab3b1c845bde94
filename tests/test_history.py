"""History and audit: every version with its op and producer; what changed between positions; the op log."""

from __future__ import annotations

from typing import Any

import pytest

from mlmd_log import errors
from mlmd_log.proto import metadata_store_pb2 as mlmd


def test_every_version_of_an_artifact_with_who_wrote_it(store_factory: Any) -> None:
    alice = store_factory(team="data", service="ingest", user="alice")
    type_id = alice.put_artifact_type(mlmd.ArtifactType(name="T"))
    (artifact_id,) = alice.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/v1")])
    for uri in ("/v2", "/v3"):
        alice.put_artifacts([mlmd.Artifact(id=artifact_id, uri=uri)])
    alice.sync(30)
    history = alice.get_history("artifact", artifact_id)
    assert [v.node.uri for v in history] == ["/v1", "/v2", "/v3"]
    assert [v.valid_to for v in history[:-1]] == [v.valid_from for v in history[1:]]
    assert history[-1].valid_to is None
    assert {(v.change.team, v.change.service, v.change.user, v.change.payload) for v in history} == {
        ("data", "ingest", "alice", "put_artifacts")
    }
    op = alice.get_op(history[1].valid_from)
    assert op.put_artifacts.artifacts[0].uri == "/v2"


def test_changes_between_positions_and_the_op_log_show_rejections(store: Any) -> None:
    t = mlmd.ArtifactType(name="T")
    t.properties["n"] = mlmd.INT
    type_id = store.put_artifact_type(t, wait=True)
    start = store.log_position()
    store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/ok")], wait=True)
    bad = mlmd.Artifact(type_id=type_id)
    bad.properties["n"].string_value = "x"
    with pytest.raises(errors.InvalidArgumentError):
        store.put_artifacts([bad], wait=True)
    payloads = [c.payload for c in store.get_changes(after=start)]
    assert "put_artifacts" in payloads
    log = store.get_op_log(after=start).to_pylist()
    rejected = [r for r in log if r["outcome"] == "rejected"]
    applied = [r for r in log if r["payload"] == "put_artifacts" and r["outcome"] == "applied"]
    assert len(applied) == 1
    # The embedded log never holds a rejected op; on Kafka it is in the log, marked, with MLMD's error.
    embedded = store._embedded is not None
    assert [r["error_class"] for r in rejected] == ([] if embedded else ["InvalidArgumentError"])


# -- entity-level changes between two positions --------------------------------------------------------


def test_entity_changes_show_created_and_updated_fields_with_who_and_when(store_factory: Any) -> None:
    store = store_factory(team="ml", service="trainer", user="bob")
    t = mlmd.ArtifactType(name="Model")
    t.properties["acc"] = mlmd.DOUBLE
    type_id = store.put_artifact_type(t, wait=True)
    start = store.log_position()
    model = mlmd.Artifact(type_id=type_id, uri="/m/1", state=mlmd.Artifact.LIVE)
    model.properties["acc"].double_value = 0.5
    (model_id,) = store.put_artifacts([model], wait=True)
    created_at = store.log_position()
    [model] = store.get_artifacts_by_id([model_id])
    model.uri = "/m/2"
    model.properties["acc"].double_value = 0.75
    model.custom_properties["stage"].string_value = "prod"
    store.put_artifacts([model], wait=True)
    updated_at = store.log_position()

    changes = store.get_entity_changes(after=start, kind="artifact")
    assert [(c.action, c.position, c.ids) for c in changes] == [
        ("created", created_at, (model_id,)), ("updated", updated_at, (model_id,))
    ]
    created, updated = changes
    fields = {f.field: (f.old, f.new) for f in created.fields}
    assert fields["uri"] == (None, "/m/1")
    assert fields["state"] == (None, "LIVE")
    assert fields["properties.acc"] == (None, 0.5)
    assert fields["type_id"] == (None, type_id)
    assert created.previous is None and updated.previous == created_at
    changed = {f.field: (f.old, f.new) for f in updated.fields}
    assert set(changed) == {"uri", "properties.acc", "custom_properties.stage", "last_update_time_since_epoch"}
    assert changed["uri"] == ("/m/1", "/m/2")
    assert changed["properties.acc"] == (0.5, 0.75)
    assert changed["custom_properties.stage"] == (None, "prod")
    who = updated.change
    assert (who.team, who.service, who.user, who.payload, who.position) == (
        "ml", "trainer", "bob", "put_artifacts", updated_at
    )
    assert who.time_ms == store.sql("SELECT log_time_ms FROM op_archive WHERE position = ?", [updated_at]).column(
        "log_time_ms").to_pylist()[0]


def test_entity_changes_cover_relations_and_types_and_respect_the_bounds(store: Any) -> None:
    a_type = store.put_artifact_type(mlmd.ArtifactType(name="D"))
    e_type = store.put_execution_type(mlmd.ExecutionType(name="Run"))
    c_type = store.put_context_type(mlmd.ContextType(name="P"), wait=True)
    start = store.log_position()
    execution_id, (data_id,), (context_id,) = store.put_execution(
        mlmd.Execution(type_id=e_type, last_known_state=mlmd.Execution.RUNNING),
        [(mlmd.Artifact(type_id=a_type, uri="/d"), mlmd.Event(type=mlmd.Event.INPUT))],
        [mlmd.Context(type_id=c_type, name="p-1")],
        wait=True,
    )
    middle = store.log_position()
    [run] = store.get_executions_by_id([execution_id])
    run.last_known_state = mlmd.Execution.COMPLETE
    store.put_executions([run], wait=True)

    first = store.get_entity_changes(after=start, up_to=middle)
    kinds = {(c.kind, c.action, c.ids) for c in first}
    assert kinds == {
        ("artifact", "created", (data_id,)), ("execution", "created", (execution_id,)),
        ("context", "created", (context_id,)), ("event", "added", (data_id, execution_id)),
        ("attribution", "added", (data_id, context_id)), ("association", "added", (execution_id, context_id)),
    }
    [event] = [c for c in first if c.kind == "event"]
    assert {f.field: f.new for f in event.fields}["type"] == "INPUT"

    [later] = store.get_entity_changes(after=middle)
    assert (later.kind, later.action, later.ids) == ("execution", "updated", (execution_id,))
    assert {f.field: (f.old, f.new) for f in later.fields}["last_known_state"] == ("RUNNING", "COMPLETE")
    assert [c.ids for c in store.get_entity_changes(after=start, kind="execution", entity_id=execution_id)] == [
        (execution_id,), (execution_id,)
    ]
    types = store.get_entity_changes(kind="type")
    assert {(c.action, {f.field: f.new for f in c.fields}["name"]) for c in types} == {
        ("created", "D"), ("created", "Run"), ("created", "P")
    }
    with pytest.raises(errors.InvalidArgumentError):
        store.get_entity_changes(kind="nonsense")


def test_history_command_lists_entity_changes_as_json_and_csv(tmp_path: Any, capsys: Any) -> None:
    import csv
    import io
    import json

    import mlmd_log
    from mlmd_log.cli import main

    db = tmp_path / "h.duckdb"
    store = mlmd_log.connect(f"duckdb:///{db}")
    type_id = store.put_artifact_type(mlmd.ArtifactType(name="T"))
    start = store.log_position()
    (artifact_id,) = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="/a")])
    store.put_artifacts([mlmd.Artifact(id=artifact_id, type_id=type_id, uri="/b")])
    end = store.log_position()
    store.close()

    assert main(["history", "--db", str(db), "--after", str(start), "--up-to", str(end), "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    uri = [(r["action"], r["old"], r["new"]) for r in rows if r["field"] == "uri"]
    assert uri == [("created", None, "/a"), ("updated", "/a", "/b")]
    assert {r["id"] for r in rows} == {artifact_id}

    assert main(["history", "--db", str(db), "artifact", str(artifact_id), "--after", str(end - 1),
                 "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["field"], r["old"], r["new"]) for r in rows if r["field"] == "uri"} == {("uri", "/a", "/b")}
    assert {r["position"] for r in rows} == {str(end)}
