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
