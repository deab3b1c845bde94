"""The pipelined projector (a batch prepared while the one before is being stored) changes no outcome.

Each batch reads the file through its own cursor while the previous batch's
transaction may still be open, and takes that batch's writes from its carry
(projector/pipeline.py). A carry that missed one kind of write would show as
a wrong outcome in a later batch, so the same random logs (updates, masked
updates, renames, external ids, events, links, parent contexts with cycles,
reuse, duplicate ops, rejections of every kind) are projected in batches of
a few records both ways and every table is compared, as are the outcomes.
A failed write must surface, keep nothing of the batch prepared on top of
it, and leave a file from which a new pipeline finishes the log exactly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from projection import CollectingLog

from mlmd_log.errors import StatusError
from mlmd_log.producer.api import Producer
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.pipeline import Pipeline
from mlmd_log.projector.records import LogRecord
from mlmd_log.projector.verify import differing_tables
from mlmd_log.projector.writer import WritePlan
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings


def _random_log(seed: int, steps: int = 400) -> list[LogRecord]:
    """Ops whose outcomes depend on what earlier ops wrote, often one or two records earlier."""
    rng = random.Random(seed)
    log = CollectingLog()
    p = Producer(log, Settings(), clock_ms=lambda: 42)
    at = mlmd.ArtifactType(name="Data")
    at.properties["n"] = mlmd.INT
    at.properties["s"] = mlmd.STRING
    artifact_type = p.put_artifact_type(at)
    execution_type = p.put_execution_type(mlmd.ExecutionType(name="Run"))
    context_type = p.put_context_type(mlmd.ContextType(name="Pipeline"))
    artifacts: list[int] = []
    executions: list[int] = []
    contexts: list[int] = []
    names = [f"n{i}" for i in range(12)]  # few names and external ids: clashes and reuse are frequent

    def recent(ids: list[int]) -> int:
        """Often one of the last few: what the batch before wrote, which the next must see."""
        return rng.choice(ids[-3:] if rng.random() < 0.6 else ids)

    def artifact(**fields: object) -> mlmd.Artifact:
        a = mlmd.Artifact(type_id=artifact_type, **fields)  # type: ignore[arg-type]
        if rng.random() < 0.8:
            a.properties["n"].int_value = rng.randint(0, 3)
        if rng.random() < 0.1:
            a.properties["s"].int_value = 1  # of the wrong type: rejected
        if rng.random() < 0.3:
            a.custom_properties["c"].string_value = rng.choice("xyz")
        return a

    for _ in range(steps):
        roll = rng.random()
        try:
            if roll < 0.25 or not artifacts:
                extra: dict[str, object] = {}
                if rng.random() < 0.3:
                    extra["name"] = rng.choice(names)
                if rng.random() < 0.3:
                    extra["external_id"] = "e" + rng.choice(names)
                artifacts += p.put_artifacts([artifact(**extra) for _ in range(rng.randint(1, 3))])
            elif roll < 0.40:
                target = recent(artifacts)
                update = artifact(id=target)
                if rng.random() < 0.3:
                    update.external_id = "e" + rng.choice(names)
                masks = rng.choice([None, ["properties.n"], ["custom_properties"], ["external_id"]])
                p.put_artifacts([update], field_mask_paths=masks)
            elif roll < 0.50:
                ctx = mlmd.Context(type_id=context_type, name=rng.choice(names))
                if contexts and rng.random() < 0.4:
                    ctx.id = recent(contexts)  # a rename, or a clash with another context's name
                ids = p.put_contexts([ctx])
                if not ctx.HasField("id"):
                    contexts += ids
            elif roll < 0.65:
                ins = list({recent(artifacts) for _ in range(rng.randint(0, 2))})
                pairs: list[tuple[mlmd.Artifact, mlmd.Event | None]] = [
                    (mlmd.Artifact(id=a, type_id=artifact_type), mlmd.Event(type=mlmd.Event.INPUT)) for a in ins
                ]
                pairs.append((artifact(), mlmd.Event(type=mlmd.Event.OUTPUT)))
                ctx = [mlmd.Context(type_id=context_type, name=rng.choice(names))]
                e, new_artifacts, ctx_ids = p.put_execution(
                    mlmd.Execution(type_id=execution_type), pairs, ctx,
                    reuse_context_if_already_exist=rng.random() < 0.7,
                )
                executions.append(e)
                artifacts += new_artifacts[len(ins):]
                contexts += ctx_ids
            elif roll < 0.75 and executions:
                p.put_events([mlmd.Event(
                    artifact_id=recent(artifacts), execution_id=recent(executions),
                    type=rng.choice([mlmd.Event.INPUT, mlmd.Event.OUTPUT]),
                )])
            elif roll < 0.85 and contexts:
                p.put_attributions_and_associations(
                    [mlmd.Attribution(artifact_id=recent(artifacts), context_id=recent(contexts))],
                    [mlmd.Association(execution_id=recent(executions), context_id=recent(contexts))]
                    if executions else [],
                )
            elif roll < 0.93 and len(contexts) > 1:
                child, parent = rng.sample(contexts[-4:] if rng.random() < 0.6 else contexts, k=2)  # cycles, repeats
                p.put_parent_contexts([mlmd.ParentContext(child_id=child, parent_id=parent)])
            elif log.records:
                log.append("retry", rng.choice(log.records[-5:]).value)  # a producer's retry: a duplicate op
        except StatusError:
            pass  # refused by the producer's own checks: nothing was appended
    return log.records


def _batches(records: list[LogRecord], seed: int) -> Iterator[list[LogRecord]]:
    rng = random.Random(seed)
    i = 0
    while i < len(records):
        size = rng.randint(1, 6)
        yield records[i:i + size]
        i += size


def _slow_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the writer thread start each batch late, so the next batch is prepared before it commits."""
    original = WritePlan.run

    def late(plan: WritePlan, con: duckdb.DuckDBPyConnection) -> None:
        time.sleep(0.01)
        original(plan, con)

    monkeypatch.setattr(WritePlan, "run", late)


def _outcomes(reports: list[object]) -> list[tuple[int, bool, str | None]]:
    return [
        (o.position, o.duplicate, None if o.error is None else f"{type(o.error).__name__}: {o.error.message}")
        for r in reports for o in r.outcomes  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize(("seed", "depth"), [(1, 1), (2, 1), (3, 2), (4, 3)])
def test_pipelined_batches_equal_one_transaction_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, depth: int
) -> None:
    records = _random_log(seed)
    plain = duckdb.connect(str(tmp_path / "plain.duckdb"))
    piped = duckdb.connect(str(tmp_path / "piped.duckdb"))
    try:
        one = Projector(plain)
        plain_reports = [one.project(batch) for batch in _batches(records, seed)]
        stored: list[int] = []
        _slow_writes(monkeypatch)
        pipeline = Pipeline(
            Projector(piped), lambda prepared: stored.append(prepared.checkpoint.position), depth=depth
        )
        piped_reports = [pipeline.submit(batch) for batch in _batches(records, seed)]
        pipeline.close()
        outcomes = _outcomes(plain_reports)
        assert _outcomes(piped_reports) == outcomes
        assert sum(1 for _, _, error in outcomes if error) > 20  # the log exercises rejections...
        assert sum(1 for _, duplicate, _ in outcomes if duplicate) > 5  # ...and duplicates
        assert stored == sorted(stored) and stored[-1] == records[-1].offset  # committed in log order
        assert differing_tables(plain, piped, records[-1].offset) == []
    finally:
        plain.close()
        piped.close()


def _dependent_pairs() -> list[LogRecord]:
    """Ops each of whose outcome depends on the op just before it (one op per batch below)."""
    log = CollectingLog()
    p = Producer(log, Settings(), clock_ms=lambda: 42)
    a_type = p.put_artifact_type(mlmd.ArtifactType(name="Data"))
    e_type = p.put_execution_type(mlmd.ExecutionType(name="Run"))
    c_type = p.put_context_type(mlmd.ContextType(name="Pipeline"))
    p.put_artifacts([mlmd.Artifact(type_id=a_type, external_id="x")])
    p.put_artifacts([mlmd.Artifact(type_id=a_type, external_id="x")])  # rejected: the external id is taken
    p.put_artifacts([mlmd.Artifact(type_id=a_type, name="n")])
    p.put_artifacts([mlmd.Artifact(type_id=a_type, name="n")])  # rejected: the name is taken
    (c1,) = p.put_contexts([mlmd.Context(type_id=c_type, name="old")])
    p.put_contexts([mlmd.Context(id=c1, type_id=c_type, name="new")])  # a rename...
    (c2,) = p.put_contexts([mlmd.Context(type_id=c_type, name="old")])  # ...frees the old name
    p.put_contexts([mlmd.Context(type_id=c_type, name="new")])  # rejected: taken by the rename
    p.put_parent_contexts([mlmd.ParentContext(child_id=c1, parent_id=c2)])
    p.put_parent_contexts([mlmd.ParentContext(child_id=c2, parent_id=c1)])  # rejected: a cycle
    (a,) = p.put_artifacts([mlmd.Artifact(type_id=a_type)])
    p.put_artifacts([mlmd.Artifact(id=a, type_id=a_type, uri="changed")])  # an update of the node just made
    e, _, _ = p.put_execution(mlmd.Execution(type_id=e_type), [], [])
    p.put_events([mlmd.Event(artifact_id=a, execution_id=e, type=mlmd.Event.INPUT)])
    p.put_events([mlmd.Event(artifact_id=a, execution_id=e, type=mlmd.Event.INPUT)])  # rejected: exists
    p.put_attributions_and_associations([mlmd.Attribution(artifact_id=a, context_id=c1)], [])
    p.put_attributions_and_associations([mlmd.Attribution(artifact_id=a, context_id=c1)], [])  # kept once
    log.append("again", log.records[-1].value)  # the same op again: a duplicate
    return log.records


@pytest.mark.parametrize("depth", [1, 2])
def test_each_batch_sees_what_the_batch_before_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: int
) -> None:
    records = _dependent_pairs()
    plain = duckdb.connect(str(tmp_path / "plain.duckdb"))
    piped = duckdb.connect(str(tmp_path / "piped.duckdb"))
    try:
        one = Projector(plain)
        expected = _outcomes([one.project([r]) for r in records])
        _slow_writes(monkeypatch)  # batch N+1 is prepared while batch N is still not committed
        pipeline = Pipeline(Projector(piped), depth=depth)
        got = _outcomes([pipeline.submit([r]) for r in records])
        pipeline.close()
        assert got == expected
        rejected = [error.split(":")[0] for _, _, error in expected if error]
        assert rejected == ["AlreadyExistsError"] * 3 + ["InvalidArgumentError", "AlreadyExistsError"]
        assert expected[-1][1]  # the duplicate
        assert differing_tables(plain, piped, records[-1].offset) == []
    finally:
        plain.close()
        piped.close()


@pytest.mark.parametrize("depth", [1, 3])
def test_a_failed_write_surfaces_and_a_new_pipeline_finishes_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: int
) -> None:
    records = _random_log(5, steps=150)
    batches = list(_batches(records, 5))
    plain = duckdb.connect(str(tmp_path / "plain.duckdb"))
    piped = duckdb.connect(str(tmp_path / "piped.duckdb"))
    try:
        one = Projector(plain)
        for batch in batches:
            one.project(batch)
        original = WritePlan.run
        calls = [0]

        def failing(plan: WritePlan, con: duckdb.DuckDBPyConnection) -> None:
            calls[0] += 1
            time.sleep(0.005)  # behind the preparing thread: later batches are queued when the 10th fails
            if calls[0] == 10:
                raise OSError("disk full")
            original(plan, con)

        monkeypatch.setattr(WritePlan, "run", failing)
        projector = Projector(piped)
        pipeline = Pipeline(projector, depth=depth)
        with pytest.raises(OSError, match="disk full"):
            for batch in batches:
                pipeline.submit(batch)
            pipeline.flush()
        pipeline.close()
        monkeypatch.setattr(WritePlan, "run", original)
        # Nothing of the failed batch (the 10th) or of those prepared on top of it was kept.
        assert calls[0] == 10
        assert projector.checkpoint().position == batches[8][-1].offset
        rest = [r for r in records if r.offset > projector.checkpoint().position]
        pipeline = Pipeline(projector, depth=depth)
        for batch in _batches(rest, 6):
            pipeline.submit(batch)
        pipeline.close()
        assert differing_tables(plain, piped, records[-1].offset) == []
    finally:
        plain.close()
        piped.close()
