"""The transaction helper: commits a block, rolls back a failed one, and raises mlmd-log's errors for DuckDB's."""

from __future__ import annotations

import duckdb
import pytest

from mlmd_log.errors import InternalError, InvalidArgumentError, NotFoundError, PermissionDeniedError
from mlmd_log.transaction import transaction


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return con


def _ids(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [r[0] for r in con.execute("SELECT id FROM t ORDER BY id").fetchall()]


def test_a_block_that_ends_is_committed(con: duckdb.DuckDBPyConnection) -> None:
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1), (2)")
    assert _ids(con) == [1, 2]


def test_a_duckdb_error_rolls_back_and_is_translated(con: duckdb.DuckDBPyConnection) -> None:
    forgotten = []
    with pytest.raises(InternalError) as raised, transaction(con, on_rollback=lambda: forgotten.append(True)):
        con.execute("INSERT INTO t VALUES (1)")
        con.execute("INSERT INTO t VALUES (1)")  # a duplicate key
    assert isinstance(raised.value.__cause__, duckdb.ConstraintException)
    assert _ids(con) == [] and forgotten == [True]


def test_our_errors_pass_through_after_the_rollback(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(NotFoundError, match="gone"), transaction(con):
        con.execute("INSERT INTO t VALUES (3)")
        raise NotFoundError("gone")
    assert _ids(con) == []


def test_a_read_only_block_never_commits(con: duckdb.DuckDBPyConnection) -> None:
    with transaction(con, read_only=True):
        con.execute("INSERT INTO t VALUES (4)")
    assert _ids(con) == []


def test_a_callers_sql_errors_are_the_callers(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET enable_external_access = false")
    with pytest.raises(InvalidArgumentError, match="Invalid SQL"), transaction(con, read_only=True, user_sql=True):
        con.execute("SELECT no_such_column FROM t")
    with pytest.raises(PermissionDeniedError), transaction(con, read_only=True, user_sql=True):
        con.execute("SELECT * FROM read_csv('/etc/hostname')")
