"""Writes a batch's output into DuckDB in bulk: Arrow tables in, one statement per table.

Never row by row (docs/design.md, invariant 8): every list of rows becomes one Arrow table
and one ``INSERT ... SELECT``; superseded versions are closed with one
``UPDATE ... FROM`` per table. The caller owns the transaction.

Building the Arrow tables (Python) and running the statements (DuckDB, which
releases the GIL) are separate steps, :func:`plan_output` and
:meth:`WritePlan.run`, so that a pipelined projector can run one batch's
statements on another thread while Python prepares the next batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import duckdb
import pyarrow as pa

from mlmd_log.projector.ddl import NODE_COLUMNS
from mlmd_log.projector.state import RELATION_TABLES, BatchOutput
from mlmd_log.schemas.rows import NodeRow

_VALUE_TYPES = {
    "int_value": pa.int64(),
    "double_value": pa.float64(),
    "string_value": pa.string(),
    "bool_value": pa.bool_(),
    "struct_value": pa.string(),
    "proto_value": pa.binary(),
}

_NODE_TYPES = {
    "type_id": pa.int64(),
    "name": pa.string(),
    "uri": pa.string(),
    "external_id": pa.string(),
    "state": pa.int32(),
    "last_known_state": pa.int32(),
}


#: Up to this many rows go in as one parameterized multi-row VALUES statement (cheaper than registering an
#: Arrow table, which costs about a millisecond whatever its size); larger batches go through Arrow.
SMALL_BATCH = 64


def insert_columns(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, pa.Array]) -> None:
    """Insert equal-length columns into ``table`` in one statement (``table`` and names come from code)."""
    names = ", ".join(f'"{c}"' for c in columns)
    rows = len(next(iter(columns.values())))
    if rows <= SMALL_BATCH:
        values = list(zip(*(column.to_pylist() for column in columns.values()), strict=True))
        row = "(" + ", ".join("?" * len(columns)) + ")"
        con.execute(
            f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * rows)}",
            [v for r in values for v in r],
        )
        return
    arrow = pa.table(columns)
    con.register("_mlmd_batch", arrow)
    try:
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _mlmd_batch")
    finally:
        con.unregister("_mlmd_batch")


def _close(con: duckdb.DuckDBPyConnection, table: str, key: str, closes: pa.Table) -> None:
    con.register("_mlmd_closes", closes)
    try:
        con.execute(
            f"UPDATE {table} SET valid_to = c.valid_to FROM _mlmd_closes c "
            f"WHERE {table}.{key} = c.id AND {table}.valid_to IS NULL"
        )
    finally:
        con.unregister("_mlmd_closes")


@dataclass(slots=True)
class WritePlan:
    """A batch's statements, in order: version closes (``UPDATE``) and inserts, each with its Arrow data.

    Built by Python (:func:`plan_output`), run by :meth:`run` inside the caller's transaction, on
    whichever thread owns the connection. ``table`` and column names come from code, never from ops.
    """

    steps: list[tuple[str, str, str | None, dict[str, pa.Array] | pa.Table]] = field(default_factory=list)

    def insert(self, table: str, columns: dict[str, pa.Array]) -> None:
        self.steps.append(("insert", table, None, columns))

    def close(self, table: str, key: str, closes: Sequence[tuple[int, int]]) -> None:
        """Set ``valid_to`` of the open version of each (id, valid_to) in ``closes``."""
        if not closes:
            return
        ids, tos = zip(*closes, strict=True)
        self.steps.append((
            "close", table, key, pa.table({"id": pa.array(ids, pa.int64()), "valid_to": pa.array(tos, pa.int64())})
        ))

    def run(self, con: duckdb.DuckDBPyConnection) -> None:
        for what, table, key, data in self.steps:
            if what == "close":
                assert key is not None and isinstance(data, pa.Table)
                _close(con, table, key, data)
            else:
                assert isinstance(data, dict)
                insert_columns(con, table, data)


def _node_versions(plan: WritePlan, kind: str, rows: list[NodeRow]) -> None:
    cols: dict[str, pa.Array] = {"id": pa.array([r.id for r in rows], pa.int64())}
    for column in NODE_COLUMNS[kind]:
        attr = "state" if column in ("state", "last_known_state") else column
        cols[column] = pa.array(list(map(attrgetter(attr), rows)), _NODE_TYPES[column])
    cols["create_time_since_epoch"] = pa.array([r.create_time for r in rows], pa.int64())
    cols["last_update_time_since_epoch"] = pa.array([r.update_time for r in rows], pa.int64())
    cols["system_metadata"] = pa.array([r.system_metadata for r in rows], pa.binary())
    cols["proto"] = pa.array([r.proto for r in rows], pa.binary())
    cols["valid_from"] = pa.array([r.valid_from for r in rows], pa.int64())
    cols["valid_to"] = pa.array([r.valid_to for r in rows], pa.int64())
    plan.insert(f"{kind}_versions", cols)

    # Properties go in one Arrow table per value column: the other value columns are left to default NULL,
    # so no column is padded with None in Python (the hot path of ingest).
    buckets: dict[str, tuple[list[int], list[int], list[str], list[bool], list[Any]]] = {}
    for r in rows:
        rid, vf = r.id, r.valid_from
        for is_custom, props in ((False, r.props), (True, r.custom)):
            for name, (column, value) in props.items():
                b = buckets.get(column)
                if b is None:
                    b = buckets[column] = ([], [], [], [], [])
                b[0].append(rid)
                b[1].append(vf)
                b[2].append(name)
                b[3].append(is_custom)
                b[4].append(value)
    table = f"{kind}_property_versions"
    if len(buckets) > 1 and sum(len(b[0]) for b in buckets.values()) <= SMALL_BATCH:
        _small_properties(plan, table, kind, buckets)
        return
    for column, (owner, froms, names, custom, values) in buckets.items():
        plan.insert(table, {
            f"{kind}_id": pa.array(owner, pa.int64()),
            "valid_from": pa.array(froms, pa.int64()),
            "name": pa.array(names, pa.string()),
            "is_custom": pa.array(custom, pa.bool_()),
            column: pa.array(values, _VALUE_TYPES[column]),
        })


def _small_properties(
    plan: WritePlan,
    table: str,
    kind: str,
    buckets: dict[str, tuple[list[int], list[int], list[str], list[bool], list[Any]]],
) -> None:
    """A few property rows of several value types in one statement (each statement costs ~0.6 ms).

    Padding the value columns with None is cheap at this size, unlike the one-table-per-value-column
    inserts that serve large batches.
    """
    cols: dict[str, list[Any]] = {f"{kind}_id": [], "valid_from": [], "name": [], "is_custom": []}
    cols.update({column: [] for column in buckets})
    for column, (owner, froms, names, custom, values) in buckets.items():
        n = len(owner)
        cols[f"{kind}_id"] += owner
        cols["valid_from"] += froms
        cols["name"] += names
        cols["is_custom"] += custom
        for other in buckets:
            cols[other] += values if other == column else [None] * n
    types = {f"{kind}_id": pa.int64(), "valid_from": pa.int64(), "name": pa.string(), "is_custom": pa.bool_()}
    plan.insert(table, {c: pa.array(v, types.get(c) or _VALUE_TYPES[c]) for c, v in cols.items()})


def plan_output(plan: WritePlan, out: BatchOutput) -> None:
    """Add to ``plan`` the statements that write ``out``: closes of superseded stored versions, then inserts."""
    for kind, closes in out.closes.items():
        plan.close(f"{kind}_versions", "id", closes)
    plan.close("type_versions", "id", out.type_closes)
    for kind, rows in out.versions.items():
        if rows:
            _node_versions(plan, kind, rows)
    if out.type_versions:
        t = out.type_versions
        plan.insert("type_versions", {
            "id": pa.array([r.id for r in t], pa.int64()),
            "kind": pa.array([r.kind for r in t], pa.string()),
            "name": pa.array([r.name for r in t], pa.string()),
            "version": pa.array([r.version for r in t], pa.string()),
            "description": pa.array([r.description for r in t], pa.string()),
            "external_id": pa.array([r.external_id for r in t], pa.string()),
            "base_type": pa.array([r.base_type for r in t], pa.int32()),
            "input_type": pa.array([r.input_type for r in t], pa.binary()),
            "output_type": pa.array([r.output_type for r in t], pa.binary()),
            "valid_from": pa.array([r.valid_from for r in t], pa.int64()),
            "valid_to": pa.array([r.valid_to for r in t], pa.int64()),
        })
        props = [(r.id, r.valid_from, name, dt) for r in t for name, dt in r.props.items()]
        if props:
            tid, vf, name, dt = zip(*props, strict=True)
            plan.insert("type_property_versions", {
                "type_id": pa.array(tid, pa.int64()), "valid_from": pa.array(vf, pa.int64()),
                "name": pa.array(name, pa.string()), "data_type": pa.array(dt, pa.int32()),
            })
    if out.events:
        a, e, ty, path, ms, sysmeta, pos = zip(*out.events, strict=True)
        plan.insert("event_versions", {
            "artifact_id": pa.array(a, pa.int64()), "execution_id": pa.array(e, pa.int64()),
            "type": pa.array(ty, pa.int32()), "path": pa.array(path, pa.binary()),
            "milliseconds_since_epoch": pa.array(ms, pa.int64()),
            "system_metadata": pa.array(sysmeta, pa.binary()), "valid_from": pa.array(pos, pa.int64()),
        })
    for table in RELATION_TABLES:
        rel = out.relations[table]
        if rel:
            first, second = {
                "attribution": ("artifact_id", "context_id"),
                "association": ("execution_id", "context_id"),
                "parent_context": ("child_id", "parent_id"),
            }[table]
            a_ids, b_ids, pos = zip(*rel, strict=True)
            plan.insert(f"{table}_versions", {
                first: pa.array(a_ids, pa.int64()), second: pa.array(b_ids, pa.int64()),
                "valid_from": pa.array(pos, pa.int64()),
            })
    if out.aliases:
        kinds, alias_ids, canonical, positions = zip(*out.aliases, strict=True)
        plan.insert("id_aliases", {
            "kind": pa.array(kinds, pa.string()), "alias_id": pa.array(alias_ids, pa.int64()),
            "canonical_id": pa.array(canonical, pa.int64()), "valid_from": pa.array(positions, pa.int64()),
        })
