"""``mlmd-log import`` / ``export`` against stores ml-metadata 1.17.1 itself wrote (the reference venv).

Every MLMD read (tests/mlmd_read_dump.py: each read method over every id, type, name and external id, a set
of filter_query expressions and lineage subgraphs) is made by ml-metadata's own client, on the source store
and on the imported one (through our gRPC server), and the answers are compared by ids and content.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mariadb import PASSWORD, USER, MariaDB, start_mariadb
from mlmd_ref import MLMD_VERSION, ReferenceUnavailableError, reference_python

import mlmd_log
from mlmd_log.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    NotFoundError,
    UnauthenticatedError,
    UnavailableError,
)
from mlmd_log.migrate.exporter import export_store
from mlmd_log.migrate.importer import import_store
from mlmd_log.migrate.source import PASSWORD_ENV
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.store import open_reader

pytestmark = pytest.mark.mlmd
HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _python() -> Path:
    try:
        return reference_python()
    except ReferenceUnavailableError as err:
        pytest.skip(f"the ml-metadata {MLMD_VERSION} reference venv cannot be created here: {err}")


def _build(path: Path, *extra: str) -> Path:
    subprocess.run([str(_python()), str(HERE / "mlmd_build_store.py"), "sqlite", str(path), *extra],
                   check=True, capture_output=True, timeout=600)
    return path


def _dump(*target: str) -> dict[str, Any]:
    done = subprocess.run([str(_python()), str(HERE / "mlmd_read_dump.py"), *target],
                          check=True, capture_output=True, timeout=600)
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLMD SQLite store with every entity, property and event-path kind, written by ml-metadata."""
    return _build(tmp_path_factory.mktemp("mlmd") / "source.db")


@pytest.fixture(scope="module")
def source_reads(source: Path) -> dict[str, Any]:
    return _dump("sqlite", str(source))


@pytest.fixture(params=("embedded", "kafka"))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(log URL, projection db) of a new, empty log on each backend."""
    db = tmp_path / "projection.duckdb"
    if request.param == "embedded":
        return f"duckdb:///{db}", None
    broker = request.getfixturevalue("kafka_broker")
    return broker.url(f"import-{uuid.uuid4().hex[:10]}"), str(db)


def _projection(target: tuple[str, str | None]) -> str:
    log, db = target
    return db if db is not None else log.removeprefix("duckdb:///")


def _served_reads(target: tuple[str, str | None], tmp_path: Path) -> dict[str, Any]:
    """ml-metadata's reads through our gRPC server over the log."""
    log, db = target
    port_file = tmp_path / f"port-{uuid.uuid4().hex[:6]}"
    argv = [sys.executable, "-m", "mlmd_log.grpc", "--log", log, "--port", "0", "--port-file", str(port_file)]
    if db is not None:
        argv += ["--db", db]
    server = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert server.poll() is None and time.monotonic() < deadline, "the gRPC server did not start"
            time.sleep(0.05)
        time.sleep(0.5)  # a Kafka server catches up with the topic first
        return _dump("grpc", "127.0.0.1", port_file.read_text().strip())
    finally:
        server.terminate()
        server.wait(30)


def _without_type_quirks(reads: dict[str, Any]) -> dict[str, Any]:
    """Type messages without external_id and base_type, which ml-metadata 1.17.1's reads drop inconsistently.

    MLMD keeps both (Type.external_id, ParentType) but get_*_type(s) answer without the external id (and
    get_*_types_by_external_ids finds nothing), while get_artifacts_and_types and lineage subgraphs answer
    without the base type. Our reads return both everywhere; :func:`_type_rows` checks them separately.
    """
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted(clean(v) for v in value)
        if isinstance(value, str) and value.startswith("id: ") and "type_id:" not in value:  # a type
            return " ".join(p for p in _split_fields(value) if not p.startswith(("external_id:", "base_type:")))
        return value

    return {k: clean(v) for k, v in reads.items() if "types_by_external_ids" not in k}


def _split_fields(text: str) -> list[str]:
    """Top-level fields of a one-line text-format message (nested braces kept together)."""
    parts, depth, current = [], 0, []
    for token in text.split(" "):
        current.append(token)
        depth += token.count("{") - token.count("}")
        if depth == 0 and not token.endswith(":"):
            parts.append(" ".join(current))
            current = []
    return parts


def _type_rows(projection: str) -> set[tuple[Any, ...]]:
    reader = open_reader(projection)
    try:
        return {tuple(r) for r in reader.con.execute(
            "SELECT id, name, external_id, base_type FROM types WHERE id > 9").fetchall()}
    finally:
        reader.con.close()


def _source_type_rows(path: Path) -> set[tuple[Any, ...]]:
    base = {1: 1, 2: 2, 3: 3, 4: 4, 5: 1, 6: 2, 7: 3, 8: 4, 9: 5}
    with sqlite3.connect(path) as con:
        parents = dict(con.execute("SELECT type_id, parent_type_id FROM ParentType"))
        return {(i, n, e, base.get(parents.get(i))) for i, n, e in con.execute(
            "SELECT id, name, external_id FROM Type WHERE id > 9")}


def test_import_answers_every_mlmd_read_like_the_source(
    source: Path, source_reads: dict[str, Any], target: tuple[str, str | None], tmp_path: Path
) -> None:
    report = import_store(str(source), *target, progress=False)
    assert report.appended > 0 and report.skipped == 0
    ours = _served_reads(target, tmp_path)
    assert _without_type_quirks(ours) == _without_type_quirks(source_reads)
    assert _type_rows(_projection(target)) == _source_type_rows(source)
    # Every read was answered (no error class in place of an answer) and covers the whole store.
    assert len(json.loads(json.dumps(source_reads))["get_artifacts"]) == 9


def test_export_round_trip_reads_equal_the_original(
    source: Path, source_reads: dict[str, Any], tmp_path: Path
) -> None:
    log = f"duckdb:///{tmp_path / 'log.duckdb'}"
    import_store(str(source), log, progress=False)
    out = tmp_path / "exported.db"
    report = export_store(open_reader(str(tmp_path / "log.duckdb")), f"sqlite:///{out}", progress=False)
    assert report.rows > 0
    assert _dump("sqlite", str(out)) == source_reads


def test_export_as_of_an_earlier_position_holds_only_what_was_there(source: Path, tmp_path: Path) -> None:
    log = f"duckdb:///{tmp_path / 'log.duckdb'}"
    import_store(str(source), log, progress=False)
    out = tmp_path / "types-only.db"
    export_store(open_reader(str(tmp_path / "log.duckdb")), f"sqlite:///{out}", "0", progress=False)
    reads = _dump("sqlite", str(out))
    assert reads["get_artifacts"] == [] and len(reads["get_artifact_types"]) == 4


def test_rerun_appends_nothing(source: Path, target: tuple[str, str | None]) -> None:
    first = import_store(str(source), *target, progress=False)
    again = import_store(str(source), *target, progress=False)
    assert again.appended == 0 and again.skipped == first.appended


def test_ids_leased_after_an_import_are_above_every_imported_id(source: Path, tmp_path: Path) -> None:
    log = f"duckdb:///{tmp_path / 'log.duckdb'}"
    import_store(str(source), log, progress=False)
    with mlmd_log.connect(log) as store:
        dataset = store.get_artifact_type("Dataset", type_version="v2")
        (new_id,) = store.put_artifacts([mlmd.Artifact(type_id=dataset.id, uri="s3://new")])
        imported = [a.id for a in store.get_artifacts() if a.uri != "s3://new"]
        assert new_id > max(imported)


def test_re_registering_an_imported_type_returns_its_mlmd_id(source: Path, tmp_path: Path) -> None:
    log = f"duckdb:///{tmp_path / 'log.duckdb'}"
    import_store(str(source), log, progress=False)
    with mlmd_log.connect(log) as store:
        dataset_v2 = mlmd.ArtifactType(name="Dataset", version="v2")
        dataset_v2.properties["split"] = mlmd.STRING
        type_id = store.put_artifact_type(dataset_v2)
        assert type_id == store.get_artifact_type("Dataset", type_version="v2").id < 100
        (artifact_id,) = store.put_artifacts([mlmd.Artifact(type_id=type_id, uri="s3://after-import")])
        assert store.get_artifacts_by_id([artifact_id])[0].type == "Dataset"
        assert len([t for t in store.get_artifact_types() if t.name == "Dataset"]) == 2  # v1 and v2, no third


def _ops_per_id(projection: str) -> dict[str, int]:
    reader = open_reader(projection)
    try:
        return dict(reader.con.execute("SELECT op_id, count(*) FROM op_archive GROUP BY op_id").fetchall())
    finally:
        reader.con.close()


def test_sigkill_during_an_import_then_a_rerun_equals_a_clean_import(
    target: tuple[str, str | None], tmp_path: Path
) -> None:
    big = _build(tmp_path / "big.db", "--scale", "20000")
    log, db = target
    argv = [sys.executable, "-m", "mlmd_log.cli", "import", str(big), "--log", log]
    if db is not None:
        argv += ["--db", db]
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    first = process.stderr.readline()  # the first progress line: ops are being appended
    assert "imported" in first, first
    time.sleep(0.5)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    resumed = import_store(str(big), log, db, progress=False)
    assert resumed.skipped > 0, "the killed run had appended nothing: the test did not kill mid-import"
    if db is None:  # embedded appends are synchronous; a Kafka run may have sent every op before the kill
        assert resumed.appended > 0, "the killed run had finished: the test did not kill mid-import"
    per_id = _ops_per_id(_projection(target))
    assert max(per_id.values()) == 1, "an op is in the log twice"
    clean = tmp_path / "clean.duckdb"
    import_store(str(big), f"duckdb:///{clean}", progress=False)
    exports = []
    for name, projection in (("resumed", _projection(target)), ("clean", str(clean))):
        out = tmp_path / f"{name}.db"
        export_store(open_reader(projection), f"sqlite:///{out}", progress=False)
        exports.append(_table_rows(out))
    assert exports[0] == exports[1]
    assert len(exports[0]["Artifact"]) == 20_009


def _table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of an MLMD SQLite file, sorted: equal exactly when the stores are equal."""
    with sqlite3.connect(path) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: sorted(con.execute(f"SELECT * FROM `{name}`"), key=repr) for name in names}


def test_a_file_that_is_not_an_mlmd_store_is_refused_and_nothing_is_appended(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    plain = tmp_path / "plain.db"
    with sqlite3.connect(plain) as con:
        con.execute("CREATE TABLE t (x)")
    log = tmp_path / "log.duckdb"
    for bad in (text, plain):
        with pytest.raises(FailedPreconditionError, match="not"):
            import_store(str(bad), f"duckdb:///{log}", progress=False)
    with pytest.raises(NotFoundError):
        import_store(str(tmp_path / "missing.db"), f"duckdb:///{log}", progress=False)
    assert not log.exists()


def test_a_corrupt_store_is_refused_and_nothing_is_appended(source: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    data = bytearray(source.read_bytes())
    data[4096:12288] = os.urandom(8192)
    corrupt.write_bytes(bytes(data))
    log = tmp_path / "log.duckdb"
    with pytest.raises(FailedPreconditionError):
        import_store(str(corrupt), f"duckdb:///{log}", progress=False)
    assert not log.exists()


def test_another_schema_version_is_refused_naming_found_and_supported(source: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    shutil.copy(source, old)
    with sqlite3.connect(old) as con:
        con.execute("UPDATE MLMDEnv SET schema_version = 8")
    log = tmp_path / "log.duckdb"
    with pytest.raises(FailedPreconditionError, match=r"schema version 8; supported: 10"):
        import_store(str(old), f"duckdb:///{log}", progress=False)
    assert not log.exists()


def test_a_refused_mysql_connection_is_a_clear_error(tmp_path: Path) -> None:
    log = tmp_path / "log.duckdb"
    with pytest.raises(UnavailableError, match="cannot connect to MySQL"):
        import_store("mysql://mlmd:secret@127.0.0.1:1/mlmd", f"duckdb:///{log}", progress=False)
    assert not log.exists()


def test_an_import_into_a_log_with_other_ops_is_refused(source: Path, tmp_path: Path) -> None:
    log = f"duckdb:///{tmp_path / 'log.duckdb'}"
    with mlmd_log.connect(log) as store:
        store.put_artifact_type(mlmd.ArtifactType(name="Mine"))
    with pytest.raises(FailedPreconditionError, match="not this store's import"):
        import_store(str(source), log, progress=False)



@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = start_mariadb(tmp_path_factory.mktemp("mariadb"))
    try:
        yield server
    finally:
        server.stop()


def test_import_from_mariadb_written_by_mlmd_answers_every_read_like_the_source(
    mariadb: MariaDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"mlmd_{uuid.uuid4().hex[:8]}"
    mariadb.create_database(database)
    where = [mariadb.host, str(mariadb.port), database, USER, PASSWORD]
    subprocess.run([str(_python()), str(HERE / "mlmd_build_store.py"), "mysql", *where],
                   check=True, capture_output=True, timeout=600)
    source_reads = _dump("mysql", *where)
    target = (f"duckdb:///{tmp_path / 'log.duckdb'}", None)
    report = import_store(mariadb.url(database), *target, progress=False)
    assert report.appended > 0
    assert _without_type_quirks(_served_reads(target, tmp_path)) == _without_type_quirks(source_reads)
    # A re-run with the password from the environment finds everything done.
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    again = import_store(mariadb.url(database, password=False), *target, progress=False)
    assert again.appended == 0


def test_mariadb_refusing_the_credentials_is_a_clear_error(mariadb: MariaDB, tmp_path: Path) -> None:
    log = tmp_path / "log.duckdb"
    url = f"mysql://{USER}:wrong@{mariadb.host}:{mariadb.port}/mysql"
    with pytest.raises(UnauthenticatedError, match="refused the credentials"):
        import_store(url, f"duckdb:///{log}", progress=False)
    assert not log.exists()


def test_export_to_mariadb_is_read_by_mlmd_like_the_original(
    source: Path, source_reads: dict[str, Any], mariadb: MariaDB, tmp_path: Path
) -> None:
    log = f"duckdb:///{tmp_path / 'log.duckdb'}"
    import_store(str(source), log, progress=False)
    database = f"out_{uuid.uuid4().hex[:8]}"
    mariadb.create_database(database)
    export_store(open_reader(str(tmp_path / "log.duckdb")), mariadb.url(database), progress=False)
    exported = _dump("mysql", mariadb.host, str(mariadb.port), database, USER, PASSWORD)
    assert _without_type_quirks(exported) == _without_type_quirks(source_reads)
    with pytest.raises(AlreadyExistsError, match="empty database"):
        export_store(open_reader(str(tmp_path / "log.duckdb")), mariadb.url(database), progress=False)
