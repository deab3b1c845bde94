"""The projection is the same in every process (docs/design.md, invariant 6), stored messages and rejections too.

Protobuf maps iterate in an order that depends on the process (hash seeds and
insertion order), so anything derived from iterating ``properties`` must not
leak that order into a table. The same log is projected here and in a fresh
interpreter, and every table is compared.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import duckdb
from projection import CollectingLog

from mlmd_log.producer.api import Producer
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.records import LogRecord
from mlmd_log.projector.verify import differing_tables
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings


def _log() -> list[LogRecord]:
    """Artifacts whose properties are set in shuffled orders, masked updates, and ops with two bad properties."""
    rng = random.Random(3)
    log = CollectingLog()
    p = Producer(log, Settings(), clock_ms=lambda: 42)
    names = [f"p{i:02d}" for i in range(12)]
    t = mlmd.ArtifactType(name="Data")
    for name in names:
        t.properties[name] = mlmd.INT
    type_id = p.put_artifact_type(t)
    ids = []
    for n in range(30):
        a = mlmd.Artifact(type_id=type_id, uri=f"u{n}")
        for name in rng.sample(names, k=rng.randint(1, len(names))):
            a.properties[name].int_value = n
        for name in rng.sample(names, k=rng.randint(0, 6)):
            a.custom_properties[f"c{name}"].string_value = name
        ids += p.put_artifacts([a])
    for artifact_id in ids[:10]:
        u = mlmd.Artifact(id=artifact_id, type_id=type_id)
        for name in rng.sample(names, k=4):
            u.custom_properties[f"c{name}"].int_value = 7
        p.put_artifacts([u], field_mask_paths=["custom_properties"])
    for _ in range(5):  # rejected: two bad properties each (one unknown, one of the wrong type), shuffled
        bad = mlmd.Artifact(type_id=type_id)
        for name in rng.sample(["zz_unknown", "p03", "aa_unknown", "p07"], k=4):
            if name.endswith("unknown"):
                bad.properties[name].int_value = 1
            else:
                bad.properties[name].string_value = "not an int"
        p.put_artifacts([bad])
    return log.records


def _project(path: Path, records: list[LogRecord]) -> None:
    con = duckdb.connect(str(path))
    try:
        Projector(con).project(records)
    finally:
        con.close()


def test_a_log_projects_to_identical_tables_in_another_process(tmp_path: Path) -> None:
    records = _log()
    here = tmp_path / "here.duckdb"
    _project(here, records)
    rows = repr([(r.offset, r.timestamp_ms, r.value) for r in records])
    (tmp_path / "log.txt").write_text(rows)
    script = (
        "import ast, sys, duckdb\n"
        "from mlmd_log.projector.engine import Projector\n"
        "from mlmd_log.projector.records import LogRecord\n"
        "rows = ast.literal_eval(open(sys.argv[1]).read())\n"
        "con = duckdb.connect(sys.argv[2])\n"
        "Projector(con).project([LogRecord(o, t, None, v) for o, t, v in rows])\n"
        "con.close()\n"
    )
    for attempt in range(3):  # each interpreter seeds its hashing differently
        there = tmp_path / f"there{attempt}.duckdb"
        subprocess.run([sys.executable, "-c", script, str(tmp_path / "log.txt"), str(there)], check=True)
        live, other = duckdb.connect(str(here), read_only=True), duckdb.connect(str(there), read_only=True)
        try:
            position = len(records) - 1
            assert differing_tables(live, other, position) == []
            rejected = live.execute("SELECT message FROM rejections ORDER BY position").fetchall()
            assert len(rejected) == 5
            assert all(m.endswith("Found unknown property: aa_unknown") for (m,) in rejected)
        finally:
            live.close()
            other.close()
