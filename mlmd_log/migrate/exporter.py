"""``mlmd-log export``: the state at a log position, written as an MLMD schema-10 store (SQLite or MySQL).

Reads the projection's versioned tables at the position (every version valid there) and writes MLMD's own
rows: types with their properties and base types, nodes (the stored MLMD message of each version) with
their properties in MLMD's cell encodings, events with their paths, attributions, associations and parent
contexts. ml-metadata 1.17.1 opens the file as its own store.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlmd_log.errors import AlreadyExistsError, InvalidArgumentError
from mlmd_log.migrate import mlmd_schema
from mlmd_log.migrate.progress import Progress
from mlmd_log.migrate.source import connect_mysql, mysql_tables, parse_mysql_url
from mlmd_log.migrate.tables import STRUCT_PREFIX
from mlmd_log.query.asof import resolve_as_of, version_filter
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

_NODE_MESSAGE: dict[str, Any] = {"artifact": mlmd.Artifact, "execution": mlmd.Execution, "context": mlmd.Context}
_BATCH = 5_000
_MYSQL_TABLE_NAMES = tuple(statement.split("`")[1] for statement in mlmd_schema.MYSQL_TABLES)


@dataclass(frozen=True)
class ExportReport:
    position: int
    rows: int


def parse_as_of(text: str | None) -> int | datetime | None:
    """``--as-of``: a log position, or an ISO 8601 time with its timezone."""
    if text is None:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidArgumentError(f"--as-of takes a log position or an ISO 8601 time, not {text!r}") from err


def _cells(value: Any) -> tuple[Any, ...]:
    """(int, double, string, byte, proto, bool) cells of an MLMD ``Value``, as MLMD's SQLite backend stores them."""
    which = value.WhichOneof("value")
    if which == "int_value":
        return (value.int_value, None, None, None, None, None)
    if which == "double_value":
        return (None, value.double_value, None, None, None, None)
    if which == "string_value":
        return (None, None, value.string_value, None, None, None)
    if which == "struct_value":
        encoded = base64.b64encode(value.struct_value.SerializeToString(deterministic=True)).decode()
        return (None, None, STRUCT_PREFIX + encoded, None, None, None)
    if which == "proto_value":
        return (None, None, None, None, base64.b64encode(value.proto_value.SerializeToString()).decode(), None)
    return (None, None, None, None, None, bool(value.bool_value))


class _Out:
    """The target store: SQL written with ``?`` markers, run on sqlite3 or PyMySQL, in one transaction."""

    def __init__(self, con: Any, marker: str) -> None:
        self.con = con
        self.marker = marker

    def _sql(self, sql: str) -> str:
        return sql if self.marker == "?" else sql.replace("?", self.marker)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.con.cursor()
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.con.cursor().executemany(self._sql(sql), [tuple(r) for r in rows])


def _rows(con: Any, sql: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    cur = con.cursor()
    cur.execute(sql, params)
    while True:
        rows = cur.fetchmany(_BATCH)
        if not rows:
            return
        yield from rows


def _write_types(con: Any, out: _Out, position: int | None) -> int:
    where, params = version_filter("t", position)
    types = con.execute(
        f"SELECT id, kind, name, version, description, external_id, base_type, valid_from FROM type_versions t "  # noqa: S608
        f"WHERE {where} AND t.valid_from >= 0 ORDER BY id", params,
    ).fetchall()
    for type_id, kind, name, version, description, external_id, base_type, valid_from in types:
        out.execute(
            "INSERT INTO Type (id, name, version, type_kind, description, external_id) VALUES (?, ?, ?, ?, ?, ?)",
            (type_id, name, version, mlmd_schema.TYPE_KIND_CODE[kind], description, external_id),
        )
        props = con.execute(
            "SELECT name, data_type FROM type_property_versions WHERE type_id = ? AND valid_from = ?",
            [type_id, valid_from],
        ).fetchall()
        out.executemany("INSERT INTO TypeProperty VALUES (?, ?, ?)", [(type_id, n, d) for n, d in props])
        parent = mlmd_schema.BASE_TYPE_PARENT.get((kind, base_type)) if base_type else None
        if parent is not None:
            out.execute("INSERT INTO ParentType VALUES (?, ?)", (type_id, parent))
    return len(types)


def _write_nodes(con: Any, out: _Out, kind: str, position: int | None, meter: Progress) -> int:
    where, params = version_filter("v", position)
    table = kind.capitalize()
    make = _NODE_MESSAGE[kind]
    count = 0
    nodes: list[tuple[Any, ...]] = []
    props: list[tuple[Any, ...]] = []
    for (proto,) in _rows(con, f"SELECT proto FROM {kind}_versions v WHERE {where} ORDER BY id", params):  # noqa: S608
        msg = make.FromString(proto)
        name = msg.name if msg.HasField("name") else None
        external_id = msg.external_id if msg.HasField("external_id") else None
        times = (msg.create_time_since_epoch, msg.last_update_time_since_epoch)
        if kind == "artifact":
            nodes.append((msg.id, msg.type_id, msg.uri, msg.state if msg.HasField("state") else None, name,
                          external_id, *times))
        elif kind == "execution":
            nodes.append((msg.id, msg.type_id, msg.last_known_state if msg.HasField("last_known_state") else None,
                          name, external_id, *times))
        else:
            nodes.append((msg.id, msg.type_id, name, external_id, *times))
        for custom, values in ((0, msg.properties), (1, msg.custom_properties)):
            for prop in values:
                props.append((msg.id, prop, custom, *_cells(values[prop])))
        count += 1
        if len(nodes) >= _BATCH:
            _flush_nodes(out, table, nodes, props)
            meter.add(len(nodes))
            nodes, props = [], []
    _flush_nodes(out, table, nodes, props)
    meter.add(len(nodes))
    return count


def _flush_nodes(out: _Out, table: str, nodes: list[tuple[Any, ...]], props: list[tuple[Any, ...]]) -> None:
    if not nodes:
        return
    marks = ", ".join("?" * len(nodes[0]))
    out.executemany(f"INSERT INTO {table} VALUES ({marks})", nodes)  # noqa: S608  # fixed table names
    out.executemany(f"INSERT INTO {table}Property VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", props)  # noqa: S608


def _write_events(con: Any, out: _Out, position: int | None, meter: Progress) -> int:
    where, params = version_filter("e", position)
    count = 0
    for artifact_id, execution_id, event_type, path, ms in _rows(
        con, f"SELECT artifact_id, execution_id, type, path, milliseconds_since_epoch FROM event_versions e "  # noqa: S608
        f"WHERE {where} ORDER BY valid_from", params,
    ):
        cur = out.execute(
            "INSERT INTO Event (artifact_id, execution_id, type, milliseconds_since_epoch) VALUES (?, ?, ?, ?)",
            (artifact_id, execution_id, event_type, ms),
        )
        if path is not None:
            steps = mlmd.Event.Path.FromString(path).steps
            out.executemany(
                "INSERT INTO EventPath VALUES (?, ?, ?, ?)",
                [(cur.lastrowid, 1, s.index, None) if s.HasField("index") else (cur.lastrowid, 0, None, s.key)
                 for s in steps],
            )
        count += 1
    meter.add(count)
    return count


def _write_links(con: Any, out: _Out, position: int | None) -> int:
    count = 0
    for table, sql_out in (
        ("attribution", "INSERT INTO Attribution (artifact_id, context_id) VALUES (?, ?)"),
        ("association", "INSERT INTO Association (execution_id, context_id) VALUES (?, ?)"),
        ("parent_context", "INSERT INTO ParentContext (context_id, parent_context_id) VALUES (?, ?)"),
    ):
        where, params = version_filter("r", position)
        first, second = ("child_id", "parent_id") if table == "parent_context" else (
            f"{table.replace('attribution', 'artifact').replace('association', 'execution')}_id", "context_id")
        rows = con.execute(
            f"SELECT {first}, {second} FROM {table}_versions r WHERE {where} ORDER BY valid_from, {first}, {second}",  # noqa: S608
            params,
        ).fetchall()
        out.executemany(sql_out, rows)
        count += len(rows)
    return count


def _open_sqlite(path: str) -> _Out:
    if os.path.exists(path) and os.path.getsize(path) > 0:
        raise AlreadyExistsError(f"{path} exists: export writes a new MLMD store")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN")
    out = _Out(con, "?")
    for statement in (*mlmd_schema.SQLITE_TABLES, *mlmd_schema.SQLITE_INDEXES):
        out.execute(statement)
    return out


def _open_mysql(url: str) -> _Out:
    con = connect_mysql(url)
    found = mysql_tables(con)
    if found:
        con.close()
        raise AlreadyExistsError(
            f"mysql database {parse_mysql_url(url).database!r} holds tables ({', '.join(sorted(found)[:5])}): "
            "export writes a new MLMD store into an empty database"
        )
    out = _Out(con, "%s")
    for statement in mlmd_schema.MYSQL_TABLES:
        out.execute(statement)
    return out


def export_store(
    reader: Any, to: str, as_of: str | int | datetime | None = None, *, progress: bool = True
) -> ExportReport:
    """Write the state of ``reader``'s projection at ``as_of`` (default: the latest) as an MLMD store at ``to``:
    ``sqlite:///PATH`` (a new file) or ``mysql://user:password@host:port/db`` (an empty database)."""
    con = reader.con
    position = resolve_as_of(con, parse_as_of(as_of) if isinstance(as_of, str) else as_of)
    shown = position if position is not None else int(con.execute("SELECT position FROM checkpoint").fetchone()[0])
    total = sum(
        int(con.execute(f"SELECT count(*) FROM {kind}s").fetchone()[0])  # noqa: S608  # fixed view names
        for kind in ("artifact", "execution", "context", "event")
    )
    meter = Progress(total, "exported", every_s=1.0 if progress else float("inf"))
    mysql = to.startswith("mysql://")
    path = "" if mysql else (to.removeprefix("sqlite:///") if to.startswith("sqlite:///") else to)
    # MySQL DDL commits by itself: the tables are created first, the rows written in one transaction.
    out = _open_mysql(to) if mysql else _open_sqlite(path)
    try:
        if mysql:
            out.execute("START TRANSACTION")
        out.execute("INSERT INTO MLMDEnv VALUES (?)", (mlmd_schema.SCHEMA_VERSION,))
        out.executemany("INSERT INTO Type (id, name, type_kind) VALUES (?, ?, ?)", mlmd_schema.SEED_TYPES)
        rows = _write_types(con, out, position)
        for kind in ("artifact", "execution", "context"):
            rows += _write_nodes(con, out, kind, position, meter)
        rows += _write_events(con, out, position, meter)
        rows += _write_links(con, out, position)
        out.execute("COMMIT")
    except BaseException:
        if mysql:  # the rows are rolled back; the tables this export created go too
            out.con.rollback()
            for table in _MYSQL_TABLE_NAMES:
                out.execute(f"DROP TABLE IF EXISTS `{table}`")
        out.con.close()
        if not mysql:
            os.unlink(path)
        raise
    out.con.close()
    if progress:
        meter.finish()
    return ExportReport(shown, rows)
