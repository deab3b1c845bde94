"""Faults and hostile input: a broker that comes back empty, producers killed mid-batch, odd strings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mlmd_log
from mlmd_log import errors
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings


def test_broker_restarted_empty_stops_the_projector_and_changes_nothing(
    kafka_broker: Any, restart_broker: Callable[[], None], tmp_path: Path
) -> None:
    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}")
    db = tmp_path / "r.duckdb"
    store = mlmd_log.connect(url, db=str(db))
    type_id = store.put_artifact_type(mlmd.ArtifactType(name="T"))
    store.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}") for i in range(10)], wait=True)
    store.close()
    before = db.read_bytes()
    restart_broker()  # tansu keeps the log in memory: the topic is gone
    writer = mlmd_log.connect(url)  # recreates the topic, empty, and writes a different op at position 0
    writer.put_artifact_type(mlmd.ArtifactType(name="Other"))
    writer.close()
    with pytest.raises(errors.LogRegressionError):
        mlmd_log.connect(url, db=str(db))
    assert db.read_bytes() == before


PRODUCER = """
import sys, mlmd_log
from mlmd_log.projector.transport import KafkaLogReader
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings
store = mlmd_log.connect(sys.argv[1])
type_id = store.put_artifact_type(mlmd.ArtifactType(name="T"))
store.sync(30)
i = 0
while True:
    store.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}/{k}") for k in range(50)])
    i += 1
    if i % 20 == 0:
        store.sync(30)  # acknowledged: everything up to here must survive the kill
        print(i * 50, flush=True)
"""


def test_producer_killed_mid_batch_loses_nothing_it_acknowledged(kafka_broker: Any, tmp_path: Path) -> None:
    url = kafka_broker.url(f"t-{uuid.uuid4().hex[:10]}")
    proc = subprocess.Popen([sys.executable, "-c", PRODUCER, url], stdout=subprocess.PIPE, text=True)
    acknowledged = 0
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while acknowledged < 3000 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip():
            acknowledged = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert acknowledged >= 3000
    reader = mlmd_log.connect(url, db=str(tmp_path / "k.duckdb"))
    with KafkaLogReader(Settings(), [kafka_broker.bootstrap], url.rsplit("/", 1)[1]) as log:
        end = log.end_offset()
    deadline = time.monotonic() + 60
    while reader.log_position() < end - 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.log_position() == end - 1
    count = reader.sql("SELECT count(*) AS n FROM artifacts").column("n").to_pylist()[0]
    assert count >= acknowledged
    assert count % 50 == 0  # every op applied whole, none half
    reader.close()


HOSTILE_STRINGS = [
    "", " ", "名前", "emoji 🤖🧪", "null\x00byte", "ctrl\x01\x02\x1b[31m", "quote ' \" ` \\", "x" * 100_000,
    "'; DROP TABLE artifact_versions; --", "\u202eRTL override", "\ud7ff\ue000",
]


@pytest.mark.parametrize("text", HOSTILE_STRINGS, ids=[f"s{i}" for i in range(len(HOSTILE_STRINGS))])
def test_odd_strings_round_trip_exactly_in_names_uris_and_properties(store: Any, text: str) -> None:
    t = mlmd.ArtifactType(name="T")
    t.properties["p"] = mlmd.STRING
    type_id = store.put_artifact_type(t)
    artifact = mlmd.Artifact(type_id=type_id, uri=text, name=f"n-{len(text)}-{text[:20]}")
    artifact.properties["p"].string_value = text
    artifact.custom_properties[text[:50] or "empty"].string_value = text
    (artifact_id,) = store.put_artifacts([artifact], wait=True)
    (got,) = store.get_artifacts_by_id([artifact_id])
    assert got.uri == text and got.properties["p"].string_value == text
    assert got.custom_properties[text[:50] or "empty"].string_value == text
    found = store.sql("SELECT count(*) AS n FROM artifact_properties WHERE string_value = ?", [text])
    assert found.column("n").to_pylist() == [2]
    assert len(store.get_artifacts_by_uri(text)) == 1
