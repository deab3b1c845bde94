"""Every error case of MLMD's behaviour reference, applied by the projector straight from the log.

Each case is an op as any client could append it (no producer-side checks in
the way); the projector must record MLMD's error class and message prefix and
leave every entity table exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pytest

from mlmd_log.projector.engine import Projector
from mlmd_log.projector.records import LogRecord
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.schemas.v1 import ops_pb2

# The seed's put_types op registers these first, in this order: the projector numbers them from 10.
DATASET, TRAINER, PIPELINE = 10, 11, 12
A1, A2, X1, C1, C2, C3 = 1000001, 1000002, 1000003, 1000004, 1000005, 1000006

ENTITY_TABLES = (
    "type_versions", "type_property_versions", "artifact_versions", "artifact_property_versions",
    "execution_versions", "context_versions", "event_versions", "attribution_versions",
    "association_versions", "parent_context_versions", "id_aliases",
)


class Log:
    """A projector over an in-memory DuckDB, fed ops at increasing positions."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.projector = Projector(self.con)
        self.position = 0

    def apply(self, build: Callable[[ops_pb2.Operation], Any]) -> Any:
        op = ops_pb2.Operation(op_id=f"op-{self.position}", schema_version=1)
        build(op)
        report = self.projector.project([LogRecord(self.position, 1_000 + self.position, None, op.SerializeToString())])
        self.position += 1
        return report.outcomes[0].error

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        return {t: self.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ENTITY_TABLES}


def _seed(log: Log) -> None:
    def types(op: ops_pb2.Operation) -> None:
        a = op.put_types.artifact_types.add(name="DataSet")
        a.properties["day"] = mlmd.INT
        op.put_types.execution_types.add(name="Trainer")
        op.put_types.context_types.add(name="Pipeline")

    def nodes(op: ops_pb2.Operation) -> None:
        req = op.put_lineage_subgraph
        a = req.artifacts.add(type_id=DATASET, name="n1", external_id="e1")
        a.properties["day"].int_value = 1
        req.artifacts.add(type_id=DATASET)
        req.executions.add(type_id=TRAINER)
        for name in ("c1", "c2", "c3"):
            req.contexts.add(type_id=PIPELINE, name=name)
        edge = req.event_edges.add(execution_index=0, artifact_index=0)
        edge.event.type = mlmd.Event.INPUT
        op.assigned_ids.artifact_ids.extend([A1, A2])
        op.assigned_ids.execution_ids.append(X1)
        op.assigned_ids.context_ids.extend([C1, C2, C3])

    def parents(op: ops_pb2.Operation) -> None:
        op.put_parent_contexts.parent_contexts.add(child_id=C2, parent_id=C1)
        op.put_parent_contexts.parent_contexts.add(child_id=C3, parent_id=C2)

    for build in (types, nodes, parents):
        assert log.apply(build) is None


def _artifacts(*artifacts: mlmd.Artifact, ids: tuple[int, ...] = ()) -> Callable[[ops_pb2.Operation], None]:
    def build(op: ops_pb2.Operation) -> None:
        op.put_artifacts.artifacts.extend(artifacts)
        op.assigned_ids.artifact_ids.extend(ids)
    return build


def _artifact(**kw: Any) -> mlmd.Artifact:
    props = kw.pop("props", {})
    a = mlmd.Artifact(**kw)
    for name, value in props.items():
        setattr(a.properties[name], f"{type(value).__name__.replace('str', 'string')}_value", value)
    return a


def _events(*events: mlmd.Event) -> Callable[[ops_pb2.Operation], None]:
    return lambda op: op.put_events.events.extend(events)


def _type(props: dict[str, int], **flags: bool) -> Callable[[ops_pb2.Operation], None]:
    def build(op: ops_pb2.Operation) -> None:
        t = op.put_artifact_type.artifact_type
        t.name = "DataSet"
        for k, v in props.items():
            t.properties[k] = v
        for k, v in flags.items():
            setattr(op.put_artifact_type, k, v)
    return build


def _parents(child: int, parent: int) -> Callable[[ops_pb2.Operation], None]:
    return lambda op: op.put_parent_contexts.parent_contexts.add(child_id=child, parent_id=parent)


def _links(attributions: list[tuple[int, int]]) -> Callable[[ops_pb2.Operation], None]:
    def build(op: ops_pb2.Operation) -> None:
        for a, c in attributions:
            op.put_attributions_and_associations.attributions.add(artifact_id=a, context_id=c)
    return build


def _edge_out_of_range(op: ops_pb2.Operation) -> None:
    op.put_lineage_subgraph.executions.add(type_id=TRAINER)
    op.assigned_ids.execution_ids.append(2000001)
    edge = op.put_lineage_subgraph.event_edges.add(execution_index=5, artifact_index=0)
    edge.event.type = mlmd.Event.INPUT


def _misaligned_event(op: ops_pb2.Operation) -> None:
    req = op.put_execution
    req.execution.type_id = TRAINER
    pair = req.artifact_event_pairs.add()
    pair.artifact.CopyFrom(mlmd.Artifact(id=A2, type_id=DATASET))
    pair.event.CopyFrom(mlmd.Event(artifact_id=A1, type=mlmd.Event.INPUT))
    op.assigned_ids.execution_ids.append(2000002)


def _contexts(*contexts: mlmd.Context, ids: tuple[int, ...] = ()) -> Callable[[ops_pb2.Operation], None]:
    def build(op: ops_pb2.Operation) -> None:
        op.put_contexts.contexts.extend(contexts)
        op.assigned_ids.context_ids.extend(ids)
    return build


def _executions(*executions: mlmd.Execution, ids: tuple[int, ...] = ()) -> Callable[[ops_pb2.Operation], None]:
    def build(op: ops_pb2.Operation) -> None:
        op.put_executions.executions.extend(executions)
        op.assigned_ids.execution_ids.extend(ids)
    return build


CASES: list[tuple[str, Callable[[ops_pb2.Operation], None], str, str]] = [
    ("unknown type id", _artifacts(mlmd.Artifact(type_id=12345), ids=(3000001,)), "NotFoundError",
     "Cannot find type for type_id: 12345No type found for query, type_id: 12345"),
    ("no type id", _artifacts(mlmd.Artifact(type="DataSet"), ids=(3000001,)), "InvalidArgumentError", "Type id is missing."),
    ("execution with an artifact type", _executions(mlmd.Execution(type_id=DATASET), ids=(3000001,)), "NotFoundError",
     f"Cannot find type for type_id: {DATASET}"),
    ("property type mismatch", _artifacts(_artifact(type_id=DATASET, props={"day": "x"}), ids=(3000001,)),
     "InvalidArgumentError", f"Cannot validate properties of type_id: {DATASET}"),
    ("undeclared property", _artifacts(_artifact(type_id=DATASET, props={"undeclared": 1}), ids=(3000001,)),
     "InvalidArgumentError", f"Cannot validate properties of type_id: {DATASET}"),
    ("duplicate name", _artifacts(mlmd.Artifact(type_id=DATASET, name="n1"), ids=(3000001,)), "AlreadyExistsError",
     "Given node already exists"),
    ("duplicate name within a batch",
     _artifacts(mlmd.Artifact(type_id=DATASET, name="z"), mlmd.Artifact(type_id=DATASET, name="z"), ids=(3000001, 3000002)),
     "AlreadyExistsError", "Given node already exists"),
    ("duplicate external id", _artifacts(mlmd.Artifact(type_id=DATASET, external_id="e1"), ids=(3000001,)),
     "AlreadyExistsError", "Given node already exists"),
    ("context without name", _contexts(mlmd.Context(type_id=PIPELINE), ids=(3000001,)), "InvalidArgumentError",
     f"Cannot create node for type_id: {PIPELINE}Context name should not be empty"),
    ("event to a missing artifact", _events(mlmd.Event(artifact_id=99999, execution_id=X1, type=mlmd.Event.INPUT)),
     "InvalidArgumentError", "No artifact with the given id 99999"),
    ("event to a missing execution", _events(mlmd.Event(artifact_id=A1, execution_id=99999, type=mlmd.Event.INPUT)),
     "InvalidArgumentError", "No execution with the given id 99999"),
    ("event without type", _events(mlmd.Event(artifact_id=A1, execution_id=X1)), "InvalidArgumentError",
     "No event type is specified."),
    ("event without artifact id", _events(mlmd.Event(execution_id=X1, type=mlmd.Event.INPUT)), "InvalidArgumentError",
     "No artifact id is specified."),
    ("duplicate event", _events(mlmd.Event(artifact_id=A1, execution_id=X1, type=mlmd.Event.INPUT)),
     "AlreadyExistsError", "Given event already exists"),
    ("attribution to a missing context", _links([(A1, 99999)]), "InvalidArgumentError", "Context id not found."),
    ("attribution of a missing artifact", _links([(99999, C1)]), "InvalidArgumentError", "Artifact id not found."),
    ("parent context self-loop", _parents(C1, C1), "InvalidArgumentError",
     "Given parent / child id in the parent_context cannot be found"),
    ("parent context cycle", _parents(C1, C3), "InvalidArgumentError", "There is a cycle detected of the given relationship."),
    ("duplicate parent context", _parents(C2, C1), "AlreadyExistsError", "Given parent_context already exists"),
    ("type with a changed property type", _type({"day": mlmd.STRING}, can_add_fields=True, can_omit_fields=True),
     "AlreadyExistsError", "Type already exists with different properties: Conflicting property value type found"),
    ("type adding a property without can_add_fields", _type({"day": mlmd.INT, "more": mlmd.INT}), "AlreadyExistsError",
     "Type already exists with different properties: can_add_fields is false while the given type has more properties"),
    ("type omitting a property without can_omit_fields", _type({}), "AlreadyExistsError",
     "Type already exists with different properties: can_omit_fields is false while stored type has more properties"),
    ("type without name", lambda op: op.put_artifact_type.artifact_type.SetInParent(), "InvalidArgumentError",
     "No type name is specified."),
    ("type with an UNKNOWN property", _type({"p": mlmd.UNKNOWN}), "InvalidArgumentError", "Property p is UNKNOWN."),
    ("lineage edge out of range", _edge_out_of_range, "OutOfRangeError",
     "The event_edge has an execution_index 5 that is outside the bounds of the request's executions list, [0, 1)."),
    ("event not aligned with its artifact", _misaligned_event, "InvalidArgumentError",
     "Given event.artifact_id is not aligned with the artifact"),
    ("update of an unknown id", _artifacts(mlmd.Artifact(id=99999, type_id=DATASET)), "InvalidArgumentError",
     "Cannot find the given id 99999"),
    ("update changing the type", _artifacts(mlmd.Artifact(id=A1, type_id=TRAINER)), "InvalidArgumentError",
     f"Given type_id {TRAINER} is different from the one known before: {DATASET}"),
    ("assigned id already used", _artifacts(mlmd.Artifact(type_id=DATASET), ids=(A1,)), "AlreadyExistsError",
     "Given node already exists"),
    ("fewer assigned ids than new nodes", _artifacts(mlmd.Artifact(type_id=DATASET)), "InvalidArgumentError",
     "malformed op"),
]


@pytest.mark.parametrize(("case", "build", "error_class", "prefix"), CASES, ids=[c[0] for c in CASES])
def test_rejected_op_records_mlmd_error_and_changes_nothing(
    case: str, build: Callable[[ops_pb2.Operation], None], error_class: str, prefix: str
) -> None:
    log = Log()
    _seed(log)
    before = log.tables()
    error = log.apply(build)
    assert error is not None, f"{case}: applied, expected {error_class}"
    assert type(error).__name__ == error_class
    assert error.message.startswith(prefix), error.message
    assert log.tables() == before
    stored = log.con.execute("SELECT error_class, message FROM rejections").fetchall()
    assert stored == [(error_class, error.message)]
    assert log.con.execute("SELECT position FROM checkpoint").fetchone() == (log.position - 1,)


def test_a_rejected_op_in_a_batch_leaves_its_neighbours_applied() -> None:
    log = Log()
    _seed(log)
    ops = []
    for i, artifact in enumerate([mlmd.Artifact(type_id=DATASET, uri="/ok1"), mlmd.Artifact(type_id=12345),
                                  mlmd.Artifact(type_id=DATASET, uri="/ok2")]):
        op = ops_pb2.Operation(op_id=f"b{i}", schema_version=1)
        op.put_artifacts.artifacts.append(artifact)
        op.assigned_ids.artifact_ids.append(4000001 + i)
        ops.append(LogRecord(log.position + i, 5_000, None, op.SerializeToString()))
    report = log.projector.project(ops)
    assert [o.error is None for o in report.outcomes] == [True, False, True]
    uris = log.con.execute("SELECT uri FROM artifacts WHERE id >= 4000001 ORDER BY id").fetchall()
    assert uris == [("/ok1",), ("/ok2",)]
