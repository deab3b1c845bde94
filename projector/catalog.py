"""A projection file opened with a row-group size of our choosing, and cursors that see it.

DuckDB takes a row-group size only when a file is attached (``ATTACH ...
(ROW_GROUP_SIZE n)``), not when it is opened by ``duckdb.connect``, and it does
not keep it in the file: it governs the row groups written through that
attachment. So such a file is attached to an in-memory connection as
:data:`ALIAS` and made the connection's default catalog. A cursor of that
connection starts in the in-memory catalog again, so every cursor that the
projector reads through is made by :func:`cursor`.

Why replay uses it (ADR 0003, addendum 2): a bulk rebuild of 1M ops spent most
of its writer time rewriting each table's partly filled last row group at every
automatic checkpoint; with row groups of 16,384 rows instead of 122,880 the
replay ran 16% faster (60.9 vs 72.8 s), for a file ~20% larger.
"""

from __future__ import annotations

from typing import Final

import duckdb

#: The catalog name an attached projection file gets.
ALIAS: Final = "projection"


def attach(path: str, *, read_only: bool, row_group_size: int) -> duckdb.DuckDBPyConnection:
    """A connection whose default catalog is the file at ``path``, written in row groups of ``row_group_size``."""
    if row_group_size < 2048 or row_group_size % 2048:
        raise ValueError(f"row_group_size must be a positive multiple of 2048 (DuckDB's vector size), not {row_group_size}")
    con = duckdb.connect()
    try:
        mode = ", READ_ONLY" if read_only else ""
        # The path is a parameter; the alias and the size are code constants (the size checked above).
        con.execute(f"ATTACH ? AS {ALIAS} (ROW_GROUP_SIZE {int(row_group_size)}{mode})", [path])
        con.execute(f"USE {ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of ``con`` that reads and writes the same catalog as ``con`` (see the module docstring)."""
    cur = con.cursor()
    row = con.execute("SELECT current_database()").fetchone()
    if row is not None and row[0] == ALIAS:
        cur.execute(f"USE {ALIAS}")
    return cur
