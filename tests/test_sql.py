"""sql(): SELECTs return Arrow; anything that could change the store or reach files is refused."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from mlmd_log import errors
from mlmd_log.proto import metadata_store_pb2 as mlmd


@pytest.fixture
def filled(store: Any) -> Any:
    type_id = store.put_artifact_type(mlmd.ArtifactType(name="T"))
    store.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}") for i in range(3)], wait=True)
    return store


def test_select_returns_arrow_with_parameters(filled: Any) -> None:
    table = filled.sql("SELECT uri FROM artifacts WHERE uri <> ? ORDER BY uri", ["/1"])
    assert isinstance(table, pa.Table)
    assert table.column("uri").to_pylist() == ["/0", "/2"]


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM artifact_versions",
        "DROP TABLE artifact_versions",
        "UPDATE artifact_versions SET uri = 'x'",
        "INSERT INTO rejections VALUES (1, 'x', 'E', 1, 'm', 1)",
        "CREATE TABLE evil AS SELECT 1",
        "ATTACH '/tmp/evil.duckdb' AS evil",
        "COPY artifact_versions TO '/tmp/out.csv'",
        "INSTALL httpfs",
        "PRAGMA version",
        "SET threads = 1",
        "SELECT 1; DELETE FROM artifact_versions",
    ],
)
def test_anything_but_one_select_is_refused_and_changes_nothing(filled: Any, statement: str) -> None:
    before = filled.sql("SELECT count(*) AS n FROM artifact_versions").column("n").to_pylist()
    with pytest.raises((errors.PermissionDeniedError, errors.InvalidArgumentError)):
        filled.sql(statement)
    assert filled.sql("SELECT count(*) AS n FROM artifact_versions").column("n").to_pylist() == before


@pytest.mark.parametrize(
    "query",
    ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/hostname')",
     "SELECT * FROM 'ops.parquet'", "SELECT * FROM query('DELETE FROM artifact_versions')"],
)
def test_selects_cannot_reach_files_or_smuggle_writes(filled: Any, query: str) -> None:
    with pytest.raises((errors.PermissionDeniedError, errors.InvalidArgumentError)):
        filled.sql(query)
    assert filled.sql("SELECT count(*) AS n FROM artifacts").column("n").to_pylist() == [3]


def test_bad_sql_is_an_invalid_argument(filled: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Invalid SQL"):
        filled.sql("SELEC uri FROM artifacts")
