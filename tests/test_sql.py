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


def test_a_query_past_its_time_limit_is_interrupted_with_a_deadline_error(filled: Any) -> None:
    with pytest.raises(errors.DeadlineExceededError, match="time limit"):
        filled.sql("SELECT count(*) FROM range(100000000000)", timeout=0.2)
    assert filled.sql("SELECT 41 + 1 AS n", timeout=5).column("n").to_pylist() == [42]


def test_bad_sql_is_an_invalid_argument(filled: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="Invalid SQL"):
        filled.sql("SELEC uri FROM artifacts")


# -- analyst macros: lineage and as-of, on a small fan-out DAG with known answers ------------------------


@pytest.fixture
def dag(store: Any) -> dict[str, Any]:
    """data -> train -> (m1, m2); m1 -> eval1 -> r1; m2 -> eval2 -> r2; then a later train2 reads data too.

    ``before`` is the position before train2 and before m1's update (uri /m1 -> /m1b, stage dev -> prod).
    """
    a_type = store.put_artifact_type(mlmd.ArtifactType(name="A"))
    e_type = store.put_execution_type(mlmd.ExecutionType(name="E"))
    c_type = store.put_context_type(mlmd.ContextType(name="C"))
    [data] = store.put_artifacts([mlmd.Artifact(type_id=a_type, uri="/data")], wait=True)

    def run(inputs: list[int], outputs: list[str], ctx: str) -> tuple[int, list[int], int]:
        pairs = [(a, mlmd.Event(type=mlmd.Event.INPUT)) for a in store.get_artifacts_by_id(inputs)]
        for uri in outputs:
            out = mlmd.Artifact(type_id=a_type, uri=uri)
            out.custom_properties["stage"].string_value = "dev"
            pairs.append((out, mlmd.Event(type=mlmd.Event.OUTPUT)))
        e, ids, (c,) = store.put_execution(mlmd.Execution(type_id=e_type), pairs,
                                           [mlmd.Context(type_id=c_type, name=ctx)], wait=True)
        return e, ids[len(inputs):], c

    train, (m1, m2), ctx = run([data], ["/m1", "/m2"], "run-1")
    eval1, (r1,), _ = run([m1], ["/r1"], "eval-1")
    eval2, (r2,), _ = run([m2], ["/r2"], "eval-2")
    before = store.log_position()
    train2, (m3,), _ = run([data], ["/m3"], "run-2")
    [m1_now] = store.get_artifacts_by_id([m1])
    m1_now.uri = "/m1b"
    m1_now.custom_properties["stage"].string_value = "prod"
    store.put_artifacts([m1_now], wait=True)
    return {"store": store, "data": data, "train": train, "m1": m1, "m2": m2, "eval1": eval1, "r1": r1,
            "eval2": eval2, "r2": r2, "train2": train2, "m3": m3, "ctx": ctx, "before": before}


def _walk(store: Any, query: str, params: list[Any]) -> set[tuple[str, int, int]]:
    return {(r["kind"], r["id"], r["hops"]) for r in store.sql(query, params).to_pylist()}


def test_downstream_finds_every_node_fed_by_an_artifact_with_its_hop_count(dag: dict[str, Any]) -> None:
    d = dag
    reached = _walk(d["store"], "SELECT * FROM downstream(?, 4)", [d["data"]])
    assert reached == {
        ("artifact", d["data"], 0), ("execution", d["train"], 1), ("execution", d["train2"], 1),
        ("artifact", d["m1"], 2), ("artifact", d["m2"], 2), ("artifact", d["m3"], 2),
        ("execution", d["eval1"], 3), ("execution", d["eval2"], 3),
        ("artifact", d["r1"], 4), ("artifact", d["r2"], 4),
    }
    assert _walk(d["store"], "SELECT * FROM downstream(?, 2) WHERE kind = 'artifact' AND hops > 0", [d["data"]]) == {
        ("artifact", d["m1"], 2), ("artifact", d["m2"], 2), ("artifact", d["m3"], 2)
    }


def test_upstream_walks_back_to_the_dataset_from_an_artifact_or_an_execution(dag: dict[str, Any]) -> None:
    d = dag
    assert _walk(d["store"], "SELECT * FROM upstream(?, 20)", [d["r1"]]) == {
        ("artifact", d["r1"], 0), ("execution", d["eval1"], 1), ("artifact", d["m1"], 2),
        ("execution", d["train"], 3), ("artifact", d["data"], 4),
    }
    assert _walk(d["store"], "SELECT * FROM upstream(?, 1)", [d["eval2"]]) == {
        ("execution", d["eval2"], 0), ("artifact", d["m2"], 1)
    }
    # A context id or an unknown id is no artifact or execution: no rows.
    assert d["store"].sql("SELECT * FROM upstream(?, 5)", [d["ctx"]]).num_rows == 0
    assert d["store"].sql("SELECT * FROM downstream(?, 5)", [10**15]).num_rows == 0


def test_lineage_macros_join_with_the_views(dag: dict[str, Any]) -> None:
    d = dag
    rows = d["store"].sql(
        "SELECT a.uri FROM downstream(?, 20) w JOIN artifacts a ON a.id = w.id "
        "WHERE w.kind = 'artifact' AND w.hops > 0 ORDER BY a.uri",
        [d["data"]],
    ).column("uri").to_pylist()
    assert rows == ["/m1b", "/m2", "/m3", "/r1", "/r2"]


def test_lineage_and_views_as_of_a_position_before_later_writes(dag: dict[str, Any]) -> None:
    d = dag
    store, before = d["store"], d["before"]
    then = _walk(store, "SELECT * FROM downstream(?, 2, as_of := ?)", [d["data"], before])
    assert then == {("artifact", d["data"], 0), ("execution", d["train"], 1),
                    ("artifact", d["m1"], 2), ("artifact", d["m2"], 2)}
    uris = store.sql("SELECT id, uri FROM artifacts_as_of(?) ORDER BY id", [before]).to_pylist()
    assert {r["id"]: r["uri"] for r in uris}[d["m1"]] == "/m1"
    assert d["m3"] not in {r["id"] for r in uris}
    stage = store.sql(
        "SELECT string_value FROM artifact_properties_as_of(?) WHERE artifact_id = ? AND name = 'stage'",
        [before, d["m1"]],
    ).column("string_value").to_pylist()
    assert stage == ["dev"]
    assert store.sql("SELECT count(*) AS n FROM executions_as_of(?)", [before]).column("n").to_pylist() == [3]
    assert store.sql("SELECT count(*) AS n FROM events_as_of(?)", [before]).column("n").to_pylist() == [7]
    assert store.sql("SELECT name FROM contexts_as_of(?) ORDER BY name", [before]).column("name").to_pylist() == [
        "eval-1", "eval-2", "run-1"
    ]


def test_as_of_macros_at_the_checkpoint_equal_the_current_views(dag: dict[str, Any]) -> None:
    store = dag["store"]
    now = store.log_position()
    for view in ("artifacts", "executions", "contexts", "artifact_properties", "execution_properties",
                 "context_properties", "types", "type_properties", "events", "attributions", "associations",
                 "parent_contexts"):
        current = store.sql(f"SELECT * FROM {view} ORDER BY ALL")
        as_of = store.sql(f"SELECT * FROM {view}_as_of(?) ORDER BY ALL", [now])
        assert as_of.equals(current), view
    assert store.sql("SELECT position_at(now()) AS p").column("p").to_pylist() == [now]
    assert store.sql("SELECT position_at(TIMESTAMPTZ '2000-01-01 00:00:00+00') AS p").column("p").to_pylist() == [-1]


def test_as_of_a_position_the_projection_has_not_reached_is_refused(dag: dict[str, Any]) -> None:
    store = dag["store"]
    beyond = store.log_position() + 100
    with pytest.raises(errors.InvalidArgumentError, match="beyond the projected log"):
        store.sql("SELECT * FROM artifacts_as_of(?)", [beyond])
    with pytest.raises(errors.InvalidArgumentError, match="beyond the projected log"):
        store.sql("SELECT * FROM upstream(?, 3, as_of := ?)", [dag["r1"], beyond])


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE MACRO upstream(x, y) AS TABLE SELECT 1",
        "CREATE TEMP MACRO artifacts_as_of(p) AS TABLE SELECT 1",
        "DROP MACRO TABLE upstream",
        "SELECT * FROM upstream(1, 2); DELETE FROM artifact_versions",
        "INSERT INTO artifact_versions SELECT * FROM artifact_versions",
        "DELETE FROM artifact_versions WHERE id IN (SELECT id FROM downstream(1, 2))",
    ],
)
def test_writes_are_refused_with_the_macros_in_place(dag: dict[str, Any], statement: str) -> None:
    store = dag["store"]
    before = store.sql("SELECT count(*) AS n FROM artifact_versions").column("n").to_pylist()
    with pytest.raises((errors.PermissionDeniedError, errors.InvalidArgumentError)):
        store.sql(statement)
    assert store.sql("SELECT count(*) AS n FROM artifact_versions").column("n").to_pylist() == before
    assert store.sql("SELECT count(*) AS n FROM downstream(?, 20)", [dag["data"]]).column("n").to_pylist() == [10]


def test_a_delete_is_refused_as_permission_denied(dag: dict[str, Any]) -> None:
    with pytest.raises(errors.PermissionDeniedError):
        dag["store"].sql("DELETE FROM artifact_versions WHERE id IN (SELECT id FROM downstream(?, 2))", [dag["data"]])


def test_macros_live_only_inside_the_query(dag: dict[str, Any]) -> None:
    store = dag["store"]
    store.sql("SELECT * FROM upstream(?, 2)", [dag["r1"]])
    leaked = store.con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name IN ('upstream', 'artifacts_as_of')"
    ).fetchone()
    assert leaked == (0,)


# -- output formats: Arrow by default, pandas and polars on request --------------------------------------


@pytest.fixture
def small(tmp_path: Any) -> Any:
    import mlmd_log

    store = mlmd_log.connect(f"duckdb:///{tmp_path / 'small.duckdb'}")
    type_id = store.put_artifact_type(mlmd.ArtifactType(name="T"))
    store.put_artifacts([mlmd.Artifact(type_id=type_id, uri=f"/{i}") for i in range(3)])
    yield store
    store.close()


def test_arrow_is_the_default_output(small: Any) -> None:
    table = small.sql("SELECT uri FROM artifacts ORDER BY uri")
    assert isinstance(table, pa.Table)
    assert small.sql("SELECT uri FROM artifacts ORDER BY uri", output="arrow").equals(table)


@pytest.mark.parametrize("package", ["pandas", "polars"])
def test_a_missing_dataframe_package_is_named_in_a_typed_error(
    small: Any, package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, package, None)  # makes `import package` fail, restored after
    with pytest.raises(errors.FailedPreconditionError, match=f"pip install {package}"):
        small.sql("SELECT uri FROM artifacts", output=package)


def test_an_unknown_output_is_an_invalid_argument(small: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="output must be one of"):
        small.sql("SELECT 1 AS x", output="excel")


def test_pandas_output(small: Any) -> None:
    pandas = pytest.importorskip("pandas")
    frame = small.sql("SELECT uri FROM artifacts WHERE uri <> ? ORDER BY uri", ["/1"], output="pandas")
    assert isinstance(frame, pandas.DataFrame)
    assert frame["uri"].tolist() == ["/0", "/2"]


def test_polars_output(small: Any) -> None:
    polars = pytest.importorskip("polars")
    frame = small.sql("SELECT uri FROM artifacts WHERE uri <> ? ORDER BY uri", ["/1"], output="polars")
    assert isinstance(frame, polars.DataFrame)
    assert frame["uri"].to_list() == ["/0", "/2"]
