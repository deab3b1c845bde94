"""The projector's fast path for new nodes writes exactly the tables its general path writes.

Generated op streams (new artifacts, executions and contexts with clashing names and external ids,
declared, mistyped and undeclared properties, custom properties set or unset, wrong type ids, updates of
earlier nodes) are projected twice from the same log records: once as the projector runs, once with the
fast path declining every op (the general path applies them all). Every projection table must hold the
same rows, and every op the same outcome.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from unittest import mock

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st
from projection import CollectingLog

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.producer.api import Producer
from mlmd_log.projector import apply as apply_module
from mlmd_log.projector.ddl import PROJECTION_TABLES
from mlmd_log.projector.engine import Projector
from mlmd_log.projector.records import LogRecord
from mlmd_log.projector.verify import digest_at
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.settings import Settings

PROFILE = settings.get_profile("ci")  # registered in conftest.py
KINDS = ("artifact", "execution", "context")
NODE = {"artifact": mlmd.Artifact, "execution": mlmd.Execution, "context": mlmd.Context}
NAMES = st.sampled_from(["a", "b", "c", ""])  # few: clashes are frequent; "" is refused
EXTERNAL_IDS = st.sampled_from(["x", "y"])


def _value(kind: str) -> st.SearchStrategy[tuple[str, Any] | None]:
    """A Value's set field and content; None leaves the Value unset."""
    options: dict[str, st.SearchStrategy[Any]] = {
        "int_value": st.integers(-5, 5), "string_value": st.sampled_from(["p", "q"]),
        "double_value": st.sampled_from([0.5, -1.0]), "bool_value": st.booleans(),
    }
    chosen = st.sampled_from(sorted(options)) if kind == "custom" else st.sampled_from(["int_value", "string_value"])
    return st.one_of(st.none(), chosen.flatmap(lambda f: options[f].map(lambda v: (f, v))))


NODE_SPEC = st.fixed_dictionaries(
    {},
    optional={
        "name": NAMES,
        "external_id": EXTERNAL_IDS,
        "properties": st.dictionaries(st.sampled_from(["n", "s", "z"]), _value("declared"), max_size=2),
        "custom_properties": st.dictionaries(st.sampled_from(["c", "d"]), _value("custom"), max_size=2),
        "state": st.sampled_from([1, 2]),
        "uri": st.sampled_from(["", "s3://u"]),
        "wrong_type": st.just(True),
    },
)
STEP = st.one_of(
    st.tuples(st.just("new"), st.sampled_from(KINDS), st.lists(NODE_SPEC, min_size=1, max_size=4)),
    st.tuples(st.just("update"), st.sampled_from(KINDS), st.integers(0, 20), NODE_SPEC),
)


def _message(kind: str, spec: dict[str, Any], type_ids: dict[str, int], node_id: int | None = None) -> Any:
    msg = NODE[kind]()
    if node_id is not None:
        msg.id = node_id
    other = KINDS[(KINDS.index(kind) + 1) % 3]
    msg.type_id = type_ids[other if spec.get("wrong_type") else kind]
    for field in ("name", "external_id"):
        if field in spec:
            setattr(msg, field, spec[field])
    if "uri" in spec and kind == "artifact":
        msg.uri = spec["uri"]
    if "state" in spec and kind != "context":
        setattr(msg, "state" if kind == "artifact" else "last_known_state", spec["state"])
    for field in ("properties", "custom_properties"):
        for key, value in spec.get(field, {}).items():
            target = getattr(msg, field)[key]
            if value is not None:
                setattr(target, value[0], value[1])
            else:
                target.SetInParent()  # a Value with nothing set
    return msg


def _log(steps: list[tuple[Any, ...]]) -> list[LogRecord]:
    """The log records a producer appends for ``steps``, after the types and one plain new artifact."""
    log = CollectingLog()
    producer = Producer(log, Settings(), clock_ms=lambda: 42)
    type_ids = {}
    for kind, cls in (("artifact", mlmd.ArtifactType), ("execution", mlmd.ExecutionType),
                      ("context", mlmd.ContextType)):
        node_type = cls(name=f"{kind}-type")
        node_type.properties["n"] = mlmd.INT
        node_type.properties["s"] = mlmd.STRING
        type_ids[kind] = getattr(producer, f"put_{kind}_type")(node_type)
    made: dict[str, list[int]] = {kind: [] for kind in KINDS}
    made["artifact"] += producer.put_artifacts([mlmd.Artifact(type_id=type_ids["artifact"], name="first")])
    for step in steps:
        put = getattr(producer, f"put_{step[1]}s")
        with contextlib.suppress(InvalidArgumentError):  # refused by the producer: nothing appended
            if step[0] == "new":
                made[step[1]] += put([_message(step[1], spec, type_ids) for spec in step[2]])
            elif made[step[1]]:
                known = made[step[1]]
                put([_message(step[1], step[3], type_ids, known[step[2] % len(known)])])
    return log.records


def _project(records: list[LogRecord], batches: int, fast: bool) -> tuple[duckdb.DuckDBPyConnection, list[Any], int]:
    """Project ``records`` in ``batches`` transactions: (the database, each op's outcome, fast inserts)."""
    taken = [0]
    original = apply_module.insert_new_nodes

    def counted(*args: Any) -> bool:
        done = original(*args)
        taken[0] += done
        return done

    replacement: Callable[..., bool] = counted if fast else (lambda *args: False)
    con = duckdb.connect(":memory:")
    projector = Projector(con)
    outcomes = []
    size = max(1, -(-len(records) // batches))
    with mock.patch.object(apply_module, "insert_new_nodes", replacement):
        for start in range(0, len(records), size):
            report = projector.project(records[start : start + size])
            outcomes += [(o.position, type(o.error).__name__ if o.error else None, o.error and o.error.message)
                         for o in report.outcomes]
    return con, outcomes, taken[0]


@PROFILE
@given(steps=st.lists(STEP, max_size=12), batches=st.integers(1, 3))
def test_the_fast_path_writes_what_the_general_path_writes(steps: list[tuple[Any, ...]], batches: int) -> None:
    records = _log(steps)
    fast, fast_outcomes, taken = _project(records, batches, fast=True)
    general, general_outcomes, _ = _project(records, batches, fast=False)
    try:
        assert taken >= 1  # the plain artifact at the start, at least, took the fast path
        assert fast_outcomes == general_outcomes
        assert {t: digest_at(fast, t, None) for t in PROJECTION_TABLES} == {
            t: digest_at(general, t, None) for t in PROJECTION_TABLES
        }
    finally:
        fast.close()
        general.close()
