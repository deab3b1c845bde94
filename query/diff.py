"""What changed between two log positions, entity by entity: every new version with its changed fields.

For positions (after, up_to], each version of a node (artifact, execution,
context) or type written in that range is one :class:`EntityChange`:
``created`` when it is the entity's first version, else ``updated`` with the
fields that differ from the version it replaced (the version whose
``valid_to`` is this one's ``valid_from``), old and new value each. Each
relation row written in the range (event, attribution, association, parent
context) is one ``added`` change; relations are never closed, so nothing is
``removed``. Each change carries the op that wrote it (who, when: the
:class:`~mlmd_log.query.history.Change` at its position). An entity changed by
three ops in the range appears three times, so every change keeps its author;
the net difference between two positions is a comparison of ``*_as_of`` views.

Everything comes from the versioned tables as stored: nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import duckdb

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.query.history import Change, changes
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.rows import VALUE_COLUMNS

#: Compared columns of a version, by entity kind (identifiers from this allow-list only).
_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "artifact": ("type_id", "name", "uri", "external_id", "state", "create_time_since_epoch",
                 "last_update_time_since_epoch", "system_metadata"),
    "execution": ("type_id", "name", "external_id", "last_known_state", "create_time_since_epoch",
                  "last_update_time_since_epoch", "system_metadata"),
    "context": ("type_id", "name", "external_id", "create_time_since_epoch", "last_update_time_since_epoch",
                "system_metadata"),
    "type": ("kind", "name", "version", "description", "external_id", "base_type", "input_type", "output_type"),
}

#: Relation tables: their two id columns and the other columns reported when a row is added.
_RELATIONS: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "event": ("artifact_id", "execution_id", ("type", "path", "milliseconds_since_epoch")),
    "attribution": ("artifact_id", "context_id", ()),
    "association": ("execution_id", "context_id", ()),
    "parent_context": ("child_id", "parent_id", ()),
}

#: Every kind of entity a change can be about.
ENTITY_KINDS: Final[tuple[str, ...]] = (*_FIELDS, *_RELATIONS)

#: Enum-valued columns, shown by name.
_ENUMS: Final[dict[str, Any]] = {
    "state": mlmd.Artifact.State,
    "last_known_state": mlmd.Execution.State,
    "type": mlmd.Event.Type,
}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of an entity: its value before and after (None where absent)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class EntityChange:
    """One new version of an entity (or one new relation row), written at ``position`` by ``change``.

    ``ids`` is ``(id,)`` for nodes and types, the relation's two ids in table order
    for relations (e.g. ``(artifact_id, execution_id)`` for an event).
    ``previous`` is the ``valid_from`` of the version it replaced (None when created or added).
    """

    kind: str
    ids: tuple[int, ...]
    action: str
    position: int
    previous: int | None
    fields: tuple[FieldChange, ...]
    change: Change


def _shown(column: str, value: Any) -> Any:
    """A stored value as people read it: enum numbers by name, an event path as its steps."""
    if value is None:
        return None
    if column in _ENUMS:
        enum = _ENUMS[column]
        return enum.Name(value) if value in enum.values() else value
    if column == "path" and isinstance(value, bytes):
        path = mlmd.Event.Path.FromString(value)
        return [s.index if s.WhichOneof("value") == "index" else s.key for s in path.steps]
    return value


def _range(alias: str, after: int, up_to: int | None) -> tuple[str, list[Any]]:
    return f"{alias}.valid_from > ? AND (? IS NULL OR {alias}.valid_from <= ?)", [after, up_to, up_to]


def _properties(
    con: duckdb.DuckDBPyConnection, kind: str, cond: str, params: list[Any]
) -> dict[tuple[int, int], dict[str, Any]]:
    """Properties of the changed versions and of the versions they replaced, by (id, valid_from)."""
    if kind == "type":
        table, owner, values = "type_property_versions", "type_id", "q.data_type"
    else:
        table, owner, values = f"{kind}_property_versions", f"{kind}_id", ", ".join(f"q.{c}" for c in VALUE_COLUMNS)
    custom = "false" if kind == "type" else "q.is_custom"
    versions = f"{'type' if kind == 'type' else kind}_versions"
    sql = f"""
WITH changed AS (
    SELECT n.id, n.valid_from FROM {versions} n WHERE {cond}
    UNION SELECT p.id, p.valid_from FROM {versions} n JOIN {versions} p ON p.id = n.id AND p.valid_to = n.valid_from
    WHERE {cond}
)
SELECT q.{owner}, q.valid_from, q.name, {custom}, {values} FROM {table} q
JOIN changed c ON c.id = q.{owner} AND c.valid_from = q.valid_from"""  # noqa: S608  # allow-listed names only
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for owner_id, valid_from, name, is_custom, *typed in con.execute(sql, params + params).fetchall():
        field = f"{'custom_properties' if is_custom else 'properties'}.{name}"
        if kind == "type":
            value: Any = mlmd.PropertyType.Name(typed[0]) if typed[0] in mlmd.PropertyType.values() else typed[0]
        else:
            value = next((v for v in typed if v is not None), None)
        out.setdefault((owner_id, valid_from), {})[field] = value
    return out


def _versions(
    con: duckdb.DuckDBPyConnection, kind: str, after: int, up_to: int | None, entity_id: int | None,
    who: dict[int, Change],
) -> list[EntityChange]:
    fields = _FIELDS[kind]
    cond, params = _range("n", after, up_to)
    if entity_id is not None:
        cond, params = f"{cond} AND n.id = ?", [*params, entity_id]
    versions = f"{kind}_versions"
    new_cols = ", ".join(f"n.{f}" for f in fields)
    old_cols = ", ".join(f"p.{f}" for f in fields)
    rows = con.execute(
        f"SELECT n.id, n.valid_from, p.valid_from, {new_cols}, {old_cols} FROM {versions} n "  # noqa: S608
        f"LEFT JOIN {versions} p ON p.id = n.id AND p.valid_to = n.valid_from WHERE {cond} "
        "ORDER BY n.valid_from, n.id",
        params,
    ).fetchall()
    props = _properties(con, kind, cond, params)
    out = []
    for node_id, valid_from, previous, *values in rows:
        new = dict(zip(fields, values[: len(fields)], strict=True))
        old = dict(zip(fields, values[len(fields):], strict=True)) if previous is not None else {}
        new.update(props.get((node_id, valid_from), {}))
        old.update(props.get((node_id, previous), {}) if previous is not None else {})
        changed = tuple(
            FieldChange(f, _shown(f, old.get(f)), _shown(f, new.get(f)))
            for f in sorted(set(new) | set(old), key=_field_order(fields))
            if old.get(f) != new.get(f)
        )
        out.append(EntityChange(kind, (node_id,), "created" if previous is None else "updated", valid_from,
                                previous, changed, who[valid_from]))
    return out


def _field_order(fields: Sequence[str]) -> Any:
    def key(name: str) -> tuple[int, str]:
        return (fields.index(name), "") if name in fields else (len(fields), name)

    return key


def _relations(
    con: duckdb.DuckDBPyConnection, kind: str, after: int, up_to: int | None, who: dict[int, Change]
) -> list[EntityChange]:
    first, second, extra = _RELATIONS[kind]
    cond, params = _range("n", after, up_to)
    cols = ", ".join(f"n.{c}" for c in (first, second, *extra, "valid_from"))
    rows = con.execute(
        f"SELECT {cols} FROM {kind}_versions n WHERE {cond} ORDER BY n.valid_from, n.{first}, n.{second}",  # noqa: S608
        params,
    ).fetchall()
    out = []
    for a, b, *rest in rows:
        *values, valid_from = rest
        fields = tuple(FieldChange(c, None, _shown(c, v)) for c, v in zip(extra, values, strict=True) if v is not None)
        out.append(EntityChange(kind, (a, b), "added", valid_from, None, fields, who[valid_from]))
    return out


def entity_changes(
    con: duckdb.DuckDBPyConnection, after: int = -1, up_to: int | None = None, *,
    kind: str | None = None, entity_id: int | None = None,
) -> list[EntityChange]:
    """Every entity version written in log positions (after, up_to], oldest first (see the module docstring).

    ``kind`` keeps one kind of entity (one of :data:`ENTITY_KINDS`); ``entity_id`` one node or type
    (with its ``kind``).
    """
    if kind is not None and kind not in ENTITY_KINDS:
        raise InvalidArgumentError(f"kind must be one of {', '.join(ENTITY_KINDS)}, not {kind!r}")
    if entity_id is not None and kind not in _FIELDS:
        raise InvalidArgumentError(f"an entity id needs the kind of a node or type ({', '.join(_FIELDS)})")
    after = max(after, -1)  # the simple types preloaded at -1 were written by no op
    who = {c.position: c for c in changes(con, after, up_to)}
    out: list[EntityChange] = []
    for k in ENTITY_KINDS if kind is None else (kind,):
        if k in _FIELDS:
            out += _versions(con, k, after, up_to, entity_id, who)
        else:
            out += _relations(con, k, after, up_to, who)
    order = {k: i for i, k in enumerate(ENTITY_KINDS)}
    out.sort(key=lambda c: (c.position, order[c.kind], c.ids))
    return out
