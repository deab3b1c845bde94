"""Every CLI command runs, prints what it says, and fails with one clear line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlmd_log.cli import main


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("cli") / "demo.duckdb")
    assert main(["demo", "--db", path]) == 0
    return path


def test_demo_answers_the_questions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--db", str(tmp_path / "d.duckdb")]) == 0
    out = capsys.readouterr().out
    for question in ("Which dataset did model", "Which hyperparameters", "Which pipeline run created it",
                     "When was the failed model pushed", "Has this execution run on the same inputs before"):
        assert question in out
    assert "learning_rate=0.02" in out and "CACHED" in out and "FAILED" in out


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_sql_in_every_format(demo_db: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "SELECT uri FROM artifacts ORDER BY uri", "--db", demo_db, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "/pipelines/taxi/run-1/examples" in out and "/pipelines/taxi/run-4/model" in out
    if fmt == "json":
        assert json.loads(out.splitlines()[0]) == {"uri": "/pipelines/taxi/run-1/blessing"}
    if fmt == "csv":
        assert out.splitlines()[0] == "uri"


def test_history_ops_lineage_and_replay(demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "SELECT min(id) AS id FROM artifacts WHERE uri = '/pipelines/taxi/run-2/model'", "--db", demo_db,
                 "--format", "json"]) == 0
    model = json.loads(capsys.readouterr().out)["id"]
    assert main(["history", "artifact", str(model), "--db", demo_db, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["uri"] == "/pipelines/taxi/run-2/model"
    assert main(["ops", "--db", demo_db, "--format", "csv"]) == 0
    assert "put_execution" in capsys.readouterr().out
    assert main(["lineage", "--artifact", str(model), "--db", demo_db]) == 0
    out = capsys.readouterr().out
    assert "/pipelines/taxi/run-2/examples" in out and "Trainer" in out and "/pipelines/taxi/run-1/examples" not in out
    assert main(["replay", "--db", demo_db, "--to", str(tmp_path / "r.duckdb")]) == 0
    assert main(["sql", "SELECT count(*) AS n FROM artifacts", "--db", str(tmp_path / "r.duckdb"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"n": 20}


def test_errors_are_one_line_without_traceback(demo_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "DELETE FROM artifacts", "--db", demo_db]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mlmd-log: PermissionDeniedError: sql() is read-only") and "Traceback" not in err
    assert main(["history", "artifact", "1", "--db", "/nonexistent/x.duckdb"]) == 1
    assert "NotFoundError" in capsys.readouterr().err


def test_every_command_has_help() -> None:
    result = subprocess.run([sys.executable, "-m", "mlmd_log.cli", "--help"], capture_output=True, text=True, check=True)
    for command in ("demo", "project", "sql", "history", "ops", "lineage", "replay"):
        assert command in result.stdout
        sub = subprocess.run([sys.executable, "-m", "mlmd_log.cli", command, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and "usage:" in sub.stdout
