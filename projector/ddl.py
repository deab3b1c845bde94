"""The DuckDB schema of the projection, as numbered migrations.

Every entity and relation is kept as *versions*: a row is valid from the log
position of the op that wrote it (``valid_from``, inclusive) until the position
of the op that replaced it (``valid_to``, exclusive; NULL while current). As-of
reads are therefore plain filters, and nothing is ever overwritten except the
``valid_to`` of a version that has just been superseded.

The tables are a supported SQL interface (docs/schema.md). Migrations only
ever add; :func:`migrate` applies the missing ones in one transaction and
records the version in ``mlmd_meta``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import duckdb

from mlmd_log.ids import SIMPLE_TYPES
from mlmd_log.transaction import transaction

#: Columns of a node version by node kind (after ``id``), in table order.
NODE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "artifact": ("type_id", "name", "uri", "external_id", "state"),
    "execution": ("type_id", "name", "external_id", "last_known_state"),
    "context": ("type_id", "name", "external_id"),
}

_NODE_SQL_TYPES: Final[dict[str, str]] = {
    "type_id": "BIGINT",
    "name": "VARCHAR",
    "uri": "VARCHAR",
    "external_id": "VARCHAR",
    "state": "INTEGER",
    "last_known_state": "INTEGER",
}

#: Relation tables: (table, first id column, second id column).
RELATIONS: Final[tuple[tuple[str, str, str], ...]] = (
    ("attribution", "artifact_id", "context_id"),
    ("association", "execution_id", "context_id"),
    ("parent_context", "child_id", "parent_id"),
)

#: Tables that hold the projection (dropped by an embedded replay); the log itself is ``log_ops``.
PROJECTION_TABLES: Final[tuple[str, ...]] = (
    "mlmd_meta",
    "op_archive",
    "rejections",
    "id_aliases",
    "type_versions",
    "type_property_versions",
    "artifact_versions",
    "artifact_property_versions",
    "execution_versions",
    "execution_property_versions",
    "context_versions",
    "context_property_versions",
    "event_versions",
    "attribution_versions",
    "association_versions",
    "parent_context_versions",
)


def _node_tables(kind: str) -> list[str]:
    cols = ",\n    ".join(f"{c} {_NODE_SQL_TYPES[c]}" for c in NODE_COLUMNS[kind])
    return [
        f"""CREATE TABLE {kind}_versions (
    id BIGINT NOT NULL,
    {cols},
    create_time_since_epoch BIGINT NOT NULL,
    last_update_time_since_epoch BIGINT NOT NULL,
    system_metadata BLOB,
    -- The version as MLMD's message, serialized: reads parse it instead of reassembling columns.
    proto BLOB NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT
)""",
        f"""CREATE TABLE {kind}_property_versions (
    {kind}_id BIGINT NOT NULL,
    valid_from BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    is_custom BOOLEAN NOT NULL,
    int_value BIGINT,
    double_value DOUBLE,
    string_value VARCHAR,
    bool_value BOOLEAN,
    struct_value VARCHAR,
    proto_value BLOB
)""",
        f"""CREATE VIEW {kind}s AS
    SELECT * EXCLUDE (valid_to) FROM {kind}_versions WHERE valid_to IS NULL""",
        f"""CREATE VIEW {kind}_properties AS
    SELECT p.* FROM {kind}_property_versions p
    JOIN {kind}_versions v ON v.id = p.{kind}_id AND v.valid_from = p.valid_from
    WHERE v.valid_to IS NULL""",
    ]


def _relation_tables() -> list[str]:
    out = []
    for table, a, b in RELATIONS:
        out.append(
            f"""CREATE TABLE {table}_versions (
    {a} BIGINT NOT NULL,
    {b} BIGINT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT
)"""
        )
        out.append(f"CREATE VIEW {table}s AS SELECT {a}, {b}, valid_from FROM {table}_versions WHERE valid_to IS NULL")
    return out


_V1: Final[list[str]] = [
    "CREATE TABLE mlmd_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    # Every op the projector consumed, whatever its outcome.
    """CREATE TABLE op_archive (
    position BIGINT NOT NULL,
    op_id VARCHAR,
    record_time_ms BIGINT NOT NULL,
    log_time_ms BIGINT NOT NULL,
    client_time_ms BIGINT,
    payload VARCHAR,
    outcome VARCHAR NOT NULL,
    team VARCHAR,
    service VARCHAR,
    host VARCHAR,
    "user" VARCHAR,
    client_version VARCHAR,
    session_id VARCHAR,
    bytes BLOB
)""",
    # The checkpoint is the archive's last row, written in the same transaction as everything it covers:
    # one row (the last applied log position, the op stored there, the running maximum record time), or
    # position -1 before the first op. No separate row to update per batch.
    """CREATE VIEW checkpoint AS
    SELECT 1 AS singleton, coalesce(max(position), -1) AS position,
           arg_max(op_id, position) AS op_id, coalesce(max(log_time_ms), 0) AS max_record_time_ms
    FROM op_archive""",
    # Duplicate-op checks look op ids up here for every batch: an index keeps that flat as the log grows.
    "CREATE INDEX op_archive_op_id ON op_archive (op_id)",
    """CREATE TABLE rejections (
    position BIGINT NOT NULL,
    op_id VARCHAR,
    error_class VARCHAR NOT NULL,
    error_code INTEGER NOT NULL,
    message VARCHAR NOT NULL,
    record_time_ms BIGINT NOT NULL
)""",
    """CREATE TABLE id_aliases (
    kind VARCHAR NOT NULL,
    alias_id BIGINT NOT NULL,
    canonical_id BIGINT NOT NULL,
    valid_from BIGINT NOT NULL
)""",
    """CREATE TABLE type_versions (
    id BIGINT NOT NULL,
    kind VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    version VARCHAR,
    description VARCHAR,
    external_id VARCHAR,
    base_type INTEGER,
    input_type BLOB,
    output_type BLOB,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT
)""",
    """CREATE TABLE type_property_versions (
    type_id BIGINT NOT NULL,
    valid_from BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    data_type INTEGER NOT NULL
)""",
    "CREATE VIEW types AS SELECT * EXCLUDE (valid_to) FROM type_versions WHERE valid_to IS NULL",
    """CREATE VIEW type_properties AS
    SELECT p.* FROM type_property_versions p
    JOIN type_versions t ON t.id = p.type_id AND t.valid_from = p.valid_from
    WHERE t.valid_to IS NULL""",
    *_node_tables("artifact"),
    *_node_tables("execution"),
    *_node_tables("context"),
    """CREATE TABLE event_versions (
    artifact_id BIGINT NOT NULL,
    execution_id BIGINT NOT NULL,
    type INTEGER NOT NULL,
    path BLOB,
    milliseconds_since_epoch BIGINT,
    system_metadata BLOB,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT
)""",
    "CREATE VIEW events AS SELECT * EXCLUDE (valid_to) FROM event_versions WHERE valid_to IS NULL",
    *_relation_tables(),
    # The simple types MLMD preloads (valid from before the first op).
    *[
        f"INSERT INTO type_versions VALUES ({tid}, '{kind}', '{name}', NULL, NULL, NULL, {base}, NULL, NULL, -1, NULL)"
        for tid, kind, name, base in SIMPLE_TYPES
    ],
]

#: The embedded log: the ops themselves, in order (embedded mode only).
LOG_TABLE: Final = """CREATE TABLE IF NOT EXISTS log_ops (
    position BIGINT NOT NULL,
    record_time_ms BIGINT NOT NULL,
    value BLOB NOT NULL
)"""

MIGRATIONS: Final[tuple[Sequence[str], ...]] = (_V1,)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The migration level of the database behind ``con`` (0 when empty)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'mlmd_meta'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT value FROM mlmd_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the missing migrations in one transaction; return the resulting version."""
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        from mlmd_log.errors import FailedPreconditionError

        raise FailedPreconditionError(
            f"database schema version {current} is newer than this mlmd-log understands ({SCHEMA_VERSION}); "
            "upgrade mlmd-log"
        )
    if current == SCHEMA_VERSION:
        return current
    with transaction(con):
        for statements in MIGRATIONS[current:]:
            for statement in statements:
                con.execute(statement)
        con.execute(
            "INSERT OR REPLACE INTO mlmd_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
    return SCHEMA_VERSION


def drop_projection(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every projection table and view (not the embedded log), for a replay."""
    views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    for view in views:
        con.execute(f'DROP VIEW IF EXISTS "{view}"')
    for table in PROJECTION_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")
