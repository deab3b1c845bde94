"""MLMD's schema-10 tables as MLMD messages: types, nodes with their properties, events with paths, links.

Each reader yields chunks of (first row key, messages, ids) in key order, so that chunk boundaries, and with
them the import's op ids, are the same on every run over the same snapshot. Queries are fixed text over
MLMD's own table names; values are parameters.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2, text_format

from mlmd_log.ids import SIMPLE_TYPES
from mlmd_log.migrate.source import Source
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

#: MLMD's Type.type_kind values.
TYPE_KIND = {0: "execution", 1: "artifact", 2: "context"}
#: MLMD keeps a struct property as this prefix and its serialized ``Struct`` in base64, in string_value.
STRUCT_PREFIX = "mlmd-struct::"
NODE_TABLES = {"artifact": "Artifact", "execution": "Execution", "context": "Context"}
_NODE_COLUMNS = {
    "artifact": "id, type_id, uri, state, name, external_id, create_time_since_epoch, last_update_time_since_epoch",
    "execution": "id, type_id, last_known_state, name, external_id, create_time_since_epoch, "
    "last_update_time_since_epoch",
    "context": "id, type_id, name, external_id, create_time_since_epoch, last_update_time_since_epoch",
}
_SIMPLE_BASE = {simple_id: base for simple_id, _, _, base in SIMPLE_TYPES}
_SIMPLE_IDS = frozenset(_SIMPLE_BASE)
_MESSAGE = {"artifact": mlmd.Artifact, "execution": mlmd.Execution, "context": mlmd.Context}
_TYPE_MESSAGE = {"artifact": mlmd.ArtifactType, "execution": mlmd.ExecutionType, "context": mlmd.ContextType}


@dataclass
class Chunk:
    """Rows of one table that become one op: ``first`` is the first row's key (the op id derives from it)."""

    table: str
    first: int
    messages: list[Any]
    ids: list[int]


def _blob(value: Any) -> bytes:
    """A proto_value cell: MLMD's SQLite backend stores it base64-encoded, a MySQL one may store raw bytes."""
    raw = value.encode() if isinstance(value, str) else bytes(value)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw


def set_value(target: Any, row: tuple[Any, ...]) -> None:
    """Fill an MLMD ``Value`` from (int, double, string, byte, proto, bool) columns."""
    int_v, double_v, string_v, byte_v, proto_v, bool_v = row
    if int_v is not None:
        target.int_value = int(int_v)
    elif double_v is not None:
        target.double_value = float(double_v)
    elif string_v is not None:
        text = string_v.decode() if isinstance(string_v, bytes) else str(string_v)
        if text.startswith(STRUCT_PREFIX):
            struct = struct_pb2.Struct()
            struct.ParseFromString(base64.b64decode(text[len(STRUCT_PREFIX):]))
            target.struct_value.CopyFrom(struct)
        else:
            target.string_value = text
    elif proto_v is not None:
        target.proto_value.ParseFromString(_blob(proto_v))
    elif bool_v is not None:
        target.bool_value = bool(bool_v)
    elif byte_v is not None:  # never written by ml-metadata 1.14+, kept as text when present
        target.string_value = _blob(byte_v).decode(errors="replace")


def read_types(source: Source) -> tuple[list[tuple[str, Any]], list[int]]:
    """Every non-simple type as (kind, message) in id order, and the ids."""
    props: dict[int, dict[str, int]] = {}
    for type_id, name, data_type in source.query("SELECT type_id, name, data_type FROM TypeProperty"):
        props.setdefault(int(type_id), {})[name] = int(data_type)
    parents = {int(t): int(p) for t, p in source.query("SELECT type_id, parent_type_id FROM ParentType")}
    out: list[tuple[str, Any]] = []
    ids: list[int] = []
    for type_id, name, version, type_kind, description, input_type, output_type, external_id in source.query(
        "SELECT id, name, version, type_kind, description, input_type, output_type, external_id "
        "FROM Type ORDER BY id"
    ):
        if type_id in _SIMPLE_IDS:
            continue
        kind = TYPE_KIND[int(type_kind)]
        msg = _TYPE_MESSAGE[kind](name=name)
        if version is not None:
            msg.version = version
        if description is not None:
            msg.description = description
        if external_id is not None:
            msg.external_id = external_id
        for prop, data_type in sorted(props.get(int(type_id), {}).items()):
            msg.properties[prop] = data_type
        parent = parents.get(int(type_id))
        if parent in _SIMPLE_BASE and kind != "context":
            msg.base_type = _SIMPLE_BASE[parent]
        if kind == "execution":
            for text, field in ((input_type, "input_type"), (output_type, "output_type")):
                if text:
                    text_format.Parse(text, getattr(msg, field))
        out.append((kind, msg))
        ids.append(int(type_id))
    return out, ids


def read_nodes(source: Source, kind: str, chunk_rows: int, after: int = 0) -> Iterator[Chunk]:
    """Nodes of ``kind`` with their properties, ``chunk_rows`` at a time in id order, from ids above ``after``."""
    table = NODE_TABLES[kind]
    node_sql = f"SELECT {_NODE_COLUMNS[kind]} FROM {table} WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608  # fixed names
    prop_sql = (
        f"SELECT {kind}_id, name, is_custom_property, int_value, double_value, string_value, byte_value, "  # noqa: S608
        f"proto_value, bool_value FROM {table}Property WHERE {kind}_id BETWEEN ? AND ?"
    )
    make = _MESSAGE[kind]
    while True:
        rows = list(source.query(node_sql, (after, chunk_rows)))
        if not rows:
            return
        first, last = int(rows[0][0]), int(rows[-1][0])
        messages: dict[int, Any] = {}
        for row in rows:
            msg = make(type_id=int(row[1]))
            if kind == "artifact":
                _, _, uri, state, name, external_id, created, updated = row
                if uri is not None:
                    msg.uri = uri
                if state is not None:
                    msg.state = int(state)
            elif kind == "execution":
                _, _, state, name, external_id, created, updated = row
                if state is not None:
                    msg.last_known_state = int(state)
            else:
                _, _, name, external_id, created, updated = row
            if name is not None:
                msg.name = name
            if external_id is not None:
                msg.external_id = external_id
            msg.create_time_since_epoch = int(created)
            msg.last_update_time_since_epoch = int(updated)
            messages[int(row[0])] = msg
        for node_id, name, custom, *values in source.query(prop_sql, (first, last)):
            msg = messages.get(int(node_id))
            if msg is not None:
                set_value((msg.custom_properties if custom else msg.properties)[name], tuple(values))
        yield Chunk(table, first, list(messages.values()), list(messages))
        after = last


def read_events(source: Source, chunk_rows: int, after: int = 0) -> Iterator[Chunk]:
    """Events with their paths, ``chunk_rows`` at a time in MLMD's event id order."""
    while True:
        rows = list(source.query(
            "SELECT id, artifact_id, execution_id, type, milliseconds_since_epoch FROM Event "
            "WHERE id > ? ORDER BY id LIMIT ?", (after, chunk_rows),
        ))
        if not rows:
            return
        first, last = int(rows[0][0]), int(rows[-1][0])
        events: dict[int, Any] = {}
        for event_id, artifact_id, execution_id, event_type, ms in rows:
            event = mlmd.Event(artifact_id=int(artifact_id), execution_id=int(execution_id))
            event.type = int(event_type)  # type: ignore[assignment]  # MLMD's enum value as stored
            event.milliseconds_since_epoch = int(ms or 0)
            events[int(event_id)] = event
        # Steps come back in the order they were written (EventPath has no order column).
        for event_id, is_index, index, key in source.query(
            "SELECT event_id, is_index_step, step_index, step_key FROM EventPath WHERE event_id BETWEEN ? AND ?",
            (first, last),
        ):
            found = events.get(int(event_id))
            if found is None:
                continue
            step = found.path.steps.add()
            if is_index:
                step.index = int(index)
            else:
                step.key = key
        yield Chunk("Event", first, list(events.values()), list(events))
        after = last


def read_links(source: Source, table: str, chunk_rows: int, after: int = 0) -> Iterator[Chunk]:
    """Attribution or Association rows as MLMD messages, in id order."""
    column = "artifact_id" if table == "Attribution" else "execution_id"
    make: Any = mlmd.Attribution if table == "Attribution" else mlmd.Association
    sql = f"SELECT id, context_id, {column} FROM {table} WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608
    while True:
        rows = list(source.query(sql, (after, chunk_rows)))
        if not rows:
            return
        yield Chunk(table, int(rows[0][0]), [make(**{"context_id": int(c), column: int(n)}) for _, c, n in rows],
                    [int(r[0]) for r in rows])
        after = int(rows[-1][0])


def read_parent_contexts(source: Source) -> list[Any]:
    """Every ParentContext edge, children and parents in id order."""
    return [
        mlmd.ParentContext(child_id=int(child), parent_id=int(parent))
        for child, parent in source.query(
            "SELECT context_id, parent_context_id FROM ParentContext ORDER BY context_id, parent_context_id"
        )
    ]


def count_rows(source: Source) -> int:
    """Rows the import will carry (for progress)."""
    row = source.one("SELECT count(*) FROM Type WHERE id > ?", (max(_SIMPLE_IDS),))
    total = int(row[0]) if row else 0
    for table in ("Artifact", "Execution", "Context", "Event", "Attribution", "Association", "ParentContext"):
        row = source.one(f"SELECT count(*) FROM {table}")  # noqa: S608  # fixed names
        total += int(row[0]) if row else 0
    return total
