"""Producers racing on the same types, context names and artifacts: one deterministic outcome, equal on replay."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

import mlmd_log
from mlmd_log.projector.ddl import PROJECTION_TABLES
from mlmd_log.projector.loop import ProjectorLoop
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings

WORKERS = int(os.environ.get("MLMD_LOG_RACE_WORKERS", "4"))
ROUNDS = 10


def _tables(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in PROJECTION_TABLES}


def test_racing_producers_converge_to_one_outcome_identical_on_replay(kafka_broker: Any, tmp_path: Path) -> None:
    url = kafka_broker.url(f"t-race-{uuid.uuid4().hex[:8]}")
    live = mlmd_log.connect(url, db=str(tmp_path / "live.duckdb"))
    data = mlmd.ArtifactType(name="Data")
    data.properties["day"] = mlmd.INT
    data_t = live.put_artifact_type(data)
    (shared,) = live.put_artifacts([mlmd.Artifact(type_id=data_t, uri="/shared")], wait=True)

    worker = str(Path(__file__).with_name("race_worker.py"))
    procs = [
        subprocess.Popen([sys.executable, worker, url, str(w), str(shared), str(ROUNDS)], stderr=subprocess.PIPE)
        for w in range(WORKERS)
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    live.sync(60)
    end = KafkaLogReader(Settings(), [kafka_broker.bootstrap], url.rsplit("/", 1)[1]).end_offset() - 1
    _wait_until(live, end)

    # One type, one shared context, one context per round: the first creator in the log won each race.
    assert [t.name for t in live.get_artifact_types()] == ["Data"]
    contexts = live.get_contexts()
    assert sorted(c.name for c in contexts) == sorted(["shared-pipeline", *(f"run-{i}" for i in range(ROUNDS))])
    (pipeline,) = [c for c in contexts if c.name == "shared-pipeline"]
    assert len(live.get_executions_by_context(pipeline.id)) == WORKERS * ROUNDS
    assert len(live.get_events_by_artifact_ids([shared])) == WORKERS * ROUNDS
    assert live.sql("SELECT count(*) AS n FROM rejections").column("n").to_pylist() == [0]
    # Every producer but the first created its own 'shared-pipeline' and was aliased to the winner's id.
    aliases = live.sql("SELECT count(DISTINCT alias_id) AS n FROM id_aliases WHERE kind = 'context'")
    assert aliases.column("n").to_pylist()[0] >= WORKERS - 1
    expected = _tables(live._con)
    live.close()

    replayed = duckdb.connect(str(tmp_path / "replay.duckdb"))
    loop = ProjectorLoop(replayed, KafkaLogReader(Settings(), [kafka_broker.bootstrap], url.rsplit("/", 1)[1]), Settings())
    loop.run(until_caught_up=True)
    loop.stop()
    assert _tables(replayed) == expected


def _wait_until(store: Any, position: int) -> None:
    import time

    deadline = time.monotonic() + 60
    while store.log_position() < position:
        if time.monotonic() > deadline:
            pytest.fail(f"projection stuck at {store.log_position()} < {position}")
        time.sleep(0.05)


@pytest.mark.heavy
def test_eight_racing_producers(kafka_broker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "WORKERS", 8)
    test_racing_producers_converge_to_one_outcome_identical_on_replay(kafka_broker, tmp_path)
