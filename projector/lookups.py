"""Bulk reads of the committed projection for the core (:class:`~mlmd_log.projector.state.Lookups`).

Each method answers a whole batch's keys with one parameterized query; lists
travel as DuckDB list parameters, never as SQL text.
"""

from __future__ import annotations

from collections.abc import Collection

import duckdb

from mlmd_log.ids import ID_BLOCK_SIZE
from mlmd_log.projector.ddl import NODE_COLUMNS
from mlmd_log.schemas.rows import (
    NODE_MESSAGE,
    STATE_FIELD,
    VALUE_COLUMNS,
    NodeRow,
    PropValue,
    TypeRow,
    scalar_props,
)

_KIND_TABLES = {kind: f"{kind}_versions" for kind in NODE_COLUMNS}

class DuckLookups:
    """:class:`Lookups` over a DuckDB connection (reads only, inside the projector's transaction)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def nodes(self, kind: str, ids: Collection[int]) -> dict[int, NodeRow]:
        """The current versions of ``ids``, read back from their stored messages.

        The stored message holds every column of the version, so one scan of the versions table answers;
        the property table (three or more rows per version) is read only for the rare node whose message
        holds a struct or proto value, whose stored form the writer normalized.
        """
        if not ids:
            return {}
        rows = self.con.execute(
            f"SELECT id, valid_from, system_metadata, proto FROM {_KIND_TABLES[kind]} "
            "WHERE valid_to IS NULL AND id IN (SELECT unnest(?::BIGINT[]))",
            [list(ids)],
        ).fetchall()
        parse = NODE_MESSAGE[kind].FromString
        state_field = STATE_FIELD[kind]
        out: dict[int, NodeRow] = {}
        other: dict[int, NodeRow] = {}
        for node_id, valid_from, system_metadata, proto in rows:
            msg = parse(proto)
            props = scalar_props(msg.properties)
            custom = scalar_props(msg.custom_properties)
            node = out[node_id] = NodeRow(
                kind, node_id, msg.type_id,
                msg.name if msg.HasField("name") else None,
                msg.external_id if msg.HasField("external_id") else None,
                getattr(msg, state_field) if state_field and msg.HasField(state_field) else None,
                msg.uri if kind == "artifact" else None,
                msg.create_time_since_epoch, msg.last_update_time_since_epoch, system_metadata,
                props or {}, custom or {}, valid_from, None, True, proto,
            )
            if props is None or custom is None:
                node.props, node.custom = {}, {}
                other[node_id] = node
        if other:
            self._fill_props(kind, other)
        return out

    def existing_ids(self, kind: str, low: int, high: int) -> set[int]:
        """Ids of current nodes in [low, high]: ids grow with log position, so zone maps prune this scan."""
        rows = self.con.execute(
            f"SELECT id FROM {_KIND_TABLES[kind]} WHERE id BETWEEN ? AND ? AND valid_to IS NULL", [low, high]
        ).fetchall()
        return {r[0] for r in rows}

    def _fill_props(self, kind: str, nodes: dict[int, NodeRow]) -> None:
        ids = list(nodes)
        froms = [nodes[i].valid_from for i in ids]
        rows = self.con.execute(
            f"SELECT p.{kind}_id, p.name, p.is_custom, {', '.join('p.' + c for c in VALUE_COLUMNS)} "
            f"FROM {kind}_property_versions p "
            "JOIN (SELECT unnest(?::BIGINT[]) AS id, unnest(?::BIGINT[]) AS vf) k "
            f"ON p.{kind}_id = k.id AND p.valid_from = k.vf",
            [ids, froms],
        ).fetchall()
        for node_id, name, is_custom, *values in rows:
            pv: PropValue | None = None
            for column, value in zip(VALUE_COLUMNS, values, strict=True):
                if value is not None:
                    pv = (column, value)
                    break
            if pv is None:
                continue
            node = nodes[node_id]
            (node.custom if is_custom else node.props)[name] = pv

    def names(self, kind: str, keys: Collection[tuple[int, str]]) -> dict[tuple[int, str], int]:
        if not keys:
            return {}
        wanted = set(keys)
        rows = self.con.execute(
            f"SELECT type_id, name, id FROM {_KIND_TABLES[kind]} "
            "WHERE valid_to IS NULL AND name IN (SELECT unnest(?::VARCHAR[]))",
            [sorted({name for _, name in wanted})],
        ).fetchall()
        return {(t, n): i for t, n, i in rows if (t, n) in wanted}

    def external_ids(self, kind: str, keys: Collection[str]) -> dict[str, int]:
        if not keys:
            return {}
        rows = self.con.execute(
            f"SELECT external_id, id FROM {_KIND_TABLES[kind]} "
            "WHERE valid_to IS NULL AND external_id IN (SELECT unnest(?::VARCHAR[]))",
            [list(keys)],
        ).fetchall()
        return dict(rows)

    def events(self, keys: Collection[tuple[int, int, int]]) -> set[tuple[int, int, int]]:
        if not keys:
            return set()
        wanted = set(keys)
        rows = self.con.execute(
            "SELECT artifact_id, execution_id, type FROM event_versions WHERE valid_to IS NULL "
            "AND artifact_id IN (SELECT unnest(?::BIGINT[])) AND execution_id IN (SELECT unnest(?::BIGINT[]))",
            [sorted({a for a, _, _ in wanted}), sorted({e for _, e, _ in wanted})],
        ).fetchall()
        return {r for r in rows if r in wanted}

    def relations(self, table: str, pairs: Collection[tuple[int, int]]) -> set[tuple[int, int]]:
        if not pairs:
            return set()
        first, second = {
            "attribution": ("artifact_id", "context_id"),
            "association": ("execution_id", "context_id"),
            "parent_context": ("child_id", "parent_id"),
        }[table]
        wanted = set(pairs)
        rows = self.con.execute(
            f"SELECT {first}, {second} FROM {table}_versions WHERE valid_to IS NULL "
            f"AND {second} IN (SELECT unnest(?::BIGINT[])) AND {first} IN (SELECT unnest(?::BIGINT[]))",
            [sorted({b for _, b in wanted}), sorted({a for a, _ in wanted})],
        ).fetchall()
        return {r for r in rows if r in wanted}

    def parents(self, child_ids: Collection[int]) -> dict[int, tuple[int, ...]]:
        if not child_ids:
            return {}
        rows = self.con.execute(
            "SELECT child_id, list(parent_id ORDER BY parent_id) FROM parent_context_versions "
            "WHERE valid_to IS NULL AND child_id IN (SELECT unnest(?::BIGINT[])) GROUP BY child_id",
            [list(child_ids)],
        ).fetchall()
        return {child: tuple(parents) for child, parents in rows}

    def all_aliases(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {}
        for kind, alias_id, canonical in self.con.execute(
            "SELECT kind, alias_id, canonical_id FROM id_aliases"
        ).fetchall():
            out.setdefault(kind, {})[alias_id] = canonical
        return out

    def high_water(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {}
        for kind in NODE_COLUMNS:
            rows = self.con.execute(
                f"SELECT (id - 1) // ?, max(id) FROM {_KIND_TABLES[kind]} GROUP BY 1", [ID_BLOCK_SIZE]
            ).fetchall()
            out[kind] = dict(rows)
        return out

    def types(self) -> dict[int, TypeRow]:
        props: dict[int, dict[str, int]] = {}
        for type_id, name, data_type in self.con.execute(
            "SELECT type_id, name, data_type FROM type_properties"
        ).fetchall():
            props.setdefault(type_id, {})[name] = data_type
        out = {}
        for row in self.con.execute(
            "SELECT id, kind, name, version, description, external_id, base_type, input_type, output_type, "
            "valid_from FROM types"
        ).fetchall():
            out[row[0]] = TypeRow(
                id=row[0], kind=row[1], name=row[2], version=row[3], description=row[4], external_id=row[5],
                base_type=row[6], input_type=row[7], output_type=row[8], props=props.get(row[0], {}),
                valid_from=row[9], in_db=True,
            )
        return out
