"""Check a rebuilt projection against the live one, table by table, at the position the rebuild reached.

"Equal at position P" is defined on the stored tables themselves: the live
table *as it was when its checkpoint was P*. That is, every row written at a
position <= P (``valid_from`` for versions, relations, properties and aliases;
``position`` for the op archive and rejections), with a ``valid_to`` later
than P read as NULL (that version was still current at P; it was closed by a
later op). ``mlmd_meta`` is compared whole. The rebuilt file must hold exactly
those rows, each as often, in every table of the projection, the stored
node messages (``proto``, serialized deterministically) included.

Each side is reduced in SQL to a row count and an order-independent sum of
row hashes, so files of any size compare without loading their rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import duckdb

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.projector.ddl import PROJECTION_TABLES

#: The column holding each table's log position (tables not listed are compared whole).
_POSITION_COLUMN: Final[dict[str, str]] = {
    "op_archive": "position",
    "rejections": "position",
    **{t: "valid_from" for t in PROJECTION_TABLES if t.endswith("_versions") or t == "id_aliases"},
}
#: Tables whose rows are closed by a later op (``valid_to``).
_CLOSED: Final = frozenset(
    t for t in PROJECTION_TABLES if t.endswith("_versions") and not t.endswith("property_versions")
)


@dataclass(frozen=True, slots=True)
class TableDigest:
    """A table at a position, reduced: its row count and the sum of its rows' hashes."""

    rows: int
    hash_sum: int


def digest_at(con: duckdb.DuckDBPyConnection, table: str, position: int | None) -> TableDigest:
    """The digest of ``table`` (one of PROJECTION_TABLES) as it was when the checkpoint was ``position``
    (None: as it is)."""
    if table not in PROJECTION_TABLES:
        raise InvalidArgumentError(f"not a projection table: {table}")
    columns = "t.*"
    if table in _CLOSED and position is not None:
        columns += " REPLACE (CASE WHEN t.valid_to > $p THEN NULL ELSE t.valid_to END AS valid_to)"
    where = f" WHERE t.{_POSITION_COLUMN[table]} <= $p" if table in _POSITION_COLUMN and position is not None else ""
    # Identifiers come from PROJECTION_TABLES and the fixed fragments above; the position is a parameter.
    sql = f"SELECT count(*), coalesce(sum(hash(r)::HUGEINT), 0) FROM (SELECT {columns} FROM {table} t{where}) r"  # noqa: S608
    params = {"p": position} if "$p" in sql else None
    row = con.execute(sql, params).fetchone()
    assert row is not None
    return TableDigest(int(row[0]), int(row[1]))


def differing_tables(live: duckdb.DuckDBPyConnection, rebuilt: duckdb.DuckDBPyConnection, position: int) -> list[str]:
    """The projection tables in which ``rebuilt`` (whole) differs from ``live`` at ``position`` (empty: equal)."""
    return [t for t in PROJECTION_TABLES if digest_at(live, t, position) != digest_at(rebuilt, t, None)]
