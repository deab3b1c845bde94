"""Every example in the docs runs: the `mlmd-log` lines of each ```bash block (docs/*.md, README.md), every
```sql block (through sql()), and the ```python blocks of docs/python-api.md and README.md.

Conventions (stated in docs/cli.md and docs/python-api.md):

* Examples run in a fresh directory holding the demo's database as ``demo.duckdb`` (ids in the docs are the
  ones the demo assigns, so a changed demo shows up here as a failing example).
* A ``# needs kafka`` comment marks the next command (or, as a block's first line, a python block) as
  needing a broker: it runs against the test broker, with every ``kafka://host:port/topic`` and
  ``--bootstrap host:port`` replaced by the test broker's address and a topic the demo was recorded to.
  Long-running commands (``--follow``, ``serve``) run as processes, are checked alive, then stopped with
  SIGINT.
* A ``# needs filter_query`` python block is skipped while this build has no ``filter_query``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from broker import Broker, free_port

from mlmd_log.cli import build_parser, main
from mlmd_log.demo import run_demo
from mlmd_log.errors import UnimplementedError
from mlmd_log.store import open_reader

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
NEEDS_KAFKA = "# needs kafka"
NEEDS_FILTER_QUERY = "# needs filter_query"
#: The only commands a doc may mark as needing a broker (everything else runs on the demo database).
KAFKA_COMMANDS = ("project", "serve", "demo", "openlineage")
DEMO_OPS = 58


@dataclass(frozen=True)
class Example:
    """One runnable example: where it is (file:line), its text, and whether it needs a broker."""

    source: str
    text: str
    needs_kafka: bool = False
    needs_filter_query: bool = False


@dataclass(frozen=True)
class Script:
    """The ``mlmd-log`` commands of one ```bash block, run in order in one directory."""

    source: str
    commands: tuple[Example, ...]

    @property
    def needs_kafka(self) -> bool:
        return any(c.needs_kafka for c in self.commands)


def _fenced(path: Path, language: str) -> Iterator[tuple[int, str]]:
    """(line number of the first content line, content) of every ```language block in ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == f"```{language}":
            start = i + 1
            end = next(j for j in range(start, len(lines)) if lines[j].strip() == "```")
            yield start + 1, "\n".join(lines[start:end])
            i = end
        i += 1


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def bash_scripts() -> list[Script]:
    """The lines starting with ``mlmd-log `` of every ```bash block (continuation lines joined)."""
    found = []
    for path in DOC_FILES:
        for start, block in _fenced(path, "bash"):
            commands = []
            marked, pending, first = False, "", start
            for offset, raw in enumerate(block.splitlines()):
                text = (pending + " " + raw.strip()).strip() if pending else raw.strip()
                if not pending:
                    first = start + offset
                if text.endswith("\\"):
                    pending = text[:-1].strip()
                    continue
                pending = ""
                if text == NEEDS_KAFKA:
                    marked = True
                    continue
                if text.startswith("mlmd-log "):
                    commands.append(Example(_where(path, first), text, needs_kafka=marked))
                if text and not text.startswith("#"):
                    marked = False
            if commands:
                found.append(Script(_where(path, start), tuple(commands)))
    return found


def python_blocks(path: Path) -> list[Example]:
    out = []
    for start, block in _fenced(path, "python"):
        first = block.lstrip().splitlines()[0].strip() if block.strip() else ""
        out.append(Example(_where(path, start), block, needs_kafka=first == NEEDS_KAFKA,
                           needs_filter_query=first == NEEDS_FILTER_QUERY))
    return out


def sql_statements() -> list[Example]:
    out = []
    for path in DOC_FILES:
        for start, block in _fenced(path, "sql"):
            for statement in duckdb.extract_statements(block):
                out.append(Example(_where(path, start), statement.query))
    return out


SCRIPTS = bash_scripts()
COMMANDS = [c for script in SCRIPTS for c in script.commands]


def _ids(examples: list[Example]) -> list[str]:
    return [f"{e.source} {e.text[:60]}" for e in examples]


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("docs-demo") / "demo.duckdb"
    assert run_demo(str(path), emit=lambda _: None) == 0
    return path


@pytest.fixture
def workdir(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory holding a copy of the demo database as demo.duckdb, made the working directory."""
    shutil.copy(demo_db, tmp_path / "demo.duckdb")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def demo_topic(kafka_broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A topic on the test broker holding the demo's log (recorded through ``run_demo(bootstrap=...)``)."""
    topic = f"docs-demo-{uuid.uuid4().hex[:8]}"
    seed = tmp_path_factory.mktemp("docs-kafka") / "seed.duckdb"
    assert run_demo(str(seed), bootstrap=kafka_broker.bootstrap, topic=topic, emit=lambda _: None) == 0
    return topic


def _on_test_broker(text: str, bootstrap: str, topic: str) -> str:
    text = re.sub(r"kafka://[^\s/\"']+/[A-Za-z0-9._-]+", f"kafka://{bootstrap}/{topic}", text)
    return re.sub(r"--bootstrap\s+\S+", f"--bootstrap {bootstrap}", text)


def _check_wired(example: Example, argv: list[str]) -> None:
    """Fail on a documented command the CLI rejects."""
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{example.source}: the CLI rejects `{example.text}`")


# -- bash: mlmd-log commands -----------------------------------------------------------------------------


def test_the_docs_have_commands_to_run() -> None:
    assert len(COMMANDS) >= 20
    assert {c.text.split()[1] for c in COMMANDS} >= {"demo", "sql", "history", "ops", "lineage", "replay", "project"}


def test_only_broker_commands_are_marked_and_every_broker_command_is() -> None:
    for example in COMMANDS:
        command = example.text.split()[1]
        if example.needs_kafka:
            assert command in KAFKA_COMMANDS, f"{example.source}: `{example.text}` should run on the demo database"
            if command == "demo":
                assert "--bootstrap" in example.text, f"{example.source}: only demo --bootstrap needs a broker"
        else:
            assert "kafka://" not in example.text and "--bootstrap" not in example.text, (
                f"{example.source}: `{example.text}` needs a broker: mark it with `{NEEDS_KAFKA}`"
            )


def _run_until_interrupted(argv: list[str], cwd: Path, ready: Any, what: str) -> subprocess.CompletedProcess[str]:
    """Start ``mlmd-log argv``, wait for ``ready()`` (or fail if it exits), then stop it with SIGINT."""
    # PYTHONFAULTHANDLER: a process that does not stop in time is sent SIGABRT, which prints every thread's stack.
    process = subprocess.Popen([sys.executable, "-m", "mlmd_log.cli", *argv], cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    try:
        deadline = time.monotonic() + 60
        while not ready():
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"{what} exited {process.returncode} before it was ready:\n{out}\n{err}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} was not ready within 60 s")
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            out, err = process.communicate(timeout=30)
            pytest.fail(f"{what} did not stop within 60 s of SIGINT; its threads then:\n{err[-30000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def _serve(argv: list[str], workdir: Path, what: str) -> None:
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    ports = [port]
    if "--http-port" in argv:
        ports.append(free_port())
        argv[argv.index("--http-port") + 1] = str(ports[-1])

    def listening() -> bool:
        try:
            for p in ports:
                with socket.create_connection(("127.0.0.1", p), timeout=0.5):
                    pass
        except OSError:
            return False
        if len(ports) == 2:  # the HTTP API answers
            import httpx

            assert httpx.get(f"http://127.0.0.1:{ports[1]}/api/v1/log/position", timeout=10).status_code == 200
        return True

    result = _run_until_interrupted(argv, workdir, listening, what)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 130, -signal.SIGINT), result.stderr


def _follow(argv: list[str], workdir: Path, what: str) -> None:
    db = workdir / argv[argv.index("--db") + 1]
    status_file = workdir / argv[argv.index("--status-file") + 1] if "--status-file" in argv else None
    started = time.monotonic()

    def ready() -> bool:
        if status_file is not None:  # written after the first batch
            return status_file.exists()
        return db.exists() and time.monotonic() - started > 3

    result = _run_until_interrupted(argv, workdir, ready, what)
    assert result.returncode == 0, result.stderr
    found = re.search(r"checkpoint at position (\d+)", result.stderr)
    assert found is not None and int(found.group(1)) >= DEMO_OPS - 1, result.stderr
    if status_file is not None:
        status = json.loads(status_file.read_text(encoding="utf-8"))
        assert status["position"] >= 0 and status["lag"] >= 0 and status["ops"] >= 1, status


def _openlineage(argv: list[str], broker: Broker, what: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``mlmd-log openlineage --from kafka://...``: on a fresh topic holding two OpenLineage events."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"openlineage-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    run_id = str(uuid.uuid4())
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for event_type in ("START", "COMPLETE"):
        event = {"eventType": event_type, "eventTime": "2026-12-07T10:00:00Z", "producer": "https://example.com/docs",
                 "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                 "run": {"runId": run_id}, "job": {"namespace": "docs", "name": "example"},
                 "outputs": [{"namespace": "s3://docs", "name": "out"}]}
        producer.send(topic, json.dumps(event).encode())
    producer.flush()
    producer.close()
    argv[argv.index("--from") + 1] = broker.url(topic)
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, f"{what} exited {code}: {out.err}"
    assert "applied 2 OpenLineage events" in out.err, out.err
def _ui(argv: list[str], workdir: Path, what: str) -> None:
    """`mlmd-log ui`: on a free port, without opening a browser; ready once its pages answer."""
    port = free_port()
    argv = [a for a in argv if a != "--no-browser"]
    if "--port" in argv:
        argv[argv.index("--port") + 1] = str(port)
    else:
        argv += ["--port", str(port)]
    argv.append("--no-browser")

    def answering() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ui/api/positions", timeout=2) as response:
                return bool(json.loads(response.read())["last"] >= DEMO_OPS - 1)
        except OSError:
            return False

    result = _run_until_interrupted(argv, workdir, answering, what)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 130, -signal.SIGINT), result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.source for s in SCRIPTS])
def test_documented_commands_run(
    script: Script, workdir: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each block's commands, in order, in a directory holding demo.duckdb; broker commands on the test broker."""
    for example in script.commands:
        text = example.text
        if example.needs_kafka:
            broker: Broker = request.getfixturevalue("kafka_broker")
            text = _on_test_broker(text, broker.bootstrap, request.getfixturevalue("demo_topic"))
        argv = shlex.split(text)[1:]
        _check_wired(example, argv)
        what = f"{example.source}: `{text}`"
        if argv[0] == "serve":
            _serve(argv, workdir, what)
            continue
        if argv[0] == "openlineage":
            _openlineage(argv, request.getfixturevalue("kafka_broker"), what, capsys)
        if argv[0] == "ui":
            _ui(argv, workdir, what)
            continue
        if "--follow" in argv:
            _follow(argv, workdir, what)
            continue
        if argv[0] == "project":  # a process of its own, as in real use: it owns its file until it exits
            result = subprocess.run([sys.executable, "-m", "mlmd_log.cli", *argv], cwd=workdir, text=True,
                                    capture_output=True, timeout=120)
            assert result.returncode == 0, f"{what} exited {result.returncode}: {result.stderr}"
            found = re.search(r"checkpoint at position (\d+)", result.stderr)  # the demo's whole log
            assert found is not None and int(found.group(1)) >= DEMO_OPS - 1, result.stderr
            continue
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, f"{what} exited {code}: {out.err}"
        assert out.out.strip() or out.err.strip(), f"{what} printed nothing"


# -- sql blocks ------------------------------------------------------------------------------------------


SQL = sql_statements()


@pytest.mark.parametrize("example", SQL, ids=_ids(SQL))
def test_documented_sql_runs(example: Example, demo_db: Path) -> None:
    reader = open_reader(str(demo_db))
    try:
        reader.sql(example.text)
    finally:
        reader.con.close()


def test_schema_doc_has_sql_examples() -> None:
    assert any(e.source.startswith("docs/schema.md") for e in SQL)


# -- python blocks ---------------------------------------------------------------------------------------


def _run_blocks(blocks: list[Example], request: pytest.FixtureRequest, *, filter_query: bool,
                namespace: dict[str, Any] | None = None) -> list[str]:
    """Execute ``blocks`` in order in one namespace (``namespace``, to inspect it after); returns the
    filter_query blocks that could not run."""
    namespace = {"__name__": "__docs__"} if namespace is None else namespace
    unavailable = []
    topic = f"docs-python-{uuid.uuid4().hex[:8]}"  # fresh: the examples create names that must be new
    for block in blocks:
        code = block.text
        if block.needs_filter_query and not filter_query:
            continue
        if block.needs_kafka:
            broker: Broker = request.getfixturevalue("kafka_broker")
            code = _on_test_broker(code, broker.bootstrap, topic)
        try:
            exec(compile(code, block.source, "exec"), namespace)
        except UnimplementedError as err:
            if not (block.needs_filter_query and "filter_query" in str(err)):
                raise
            unavailable.append(block.source)
    return unavailable


def test_python_api_examples_run(workdir: Path, request: pytest.FixtureRequest) -> None:
    blocks = python_blocks(ROOT / "docs" / "python-api.md")
    assert len(blocks) >= 10
    assert _run_blocks(blocks, request, filter_query=False) == []


def test_python_api_filter_query_examples_run(workdir: Path, request: pytest.FixtureRequest) -> None:
    blocks = python_blocks(ROOT / "docs" / "python-api.md")
    assert any(b.needs_filter_query for b in blocks)
    unavailable = _run_blocks(blocks, request, filter_query=True)
    if unavailable:
        pytest.skip(f"filter_query is not in this build yet: {', '.join(unavailable)} not run")


def test_readme_example_reads_the_past_value_as_of_a_position(workdir: Path, request: pytest.FixtureRequest) -> None:
    """The README's example runs and gives what its comments promise: day 1 as of the saved position, 2 now."""
    (example,) = python_blocks(ROOT / "README.md")
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    _run_blocks([example], request, filter_query=True, namespace=namespace)
    then, now = namespace["then"], namespace["now"]
    assert (then.id, now.id) == (namespace["artifact_id"], namespace["artifact_id"])
    assert then.properties["day"].int_value == 1
    assert now.properties["day"].int_value == 2


# -- coverage of the CLI ---------------------------------------------------------------------------------


def test_every_cli_command_is_documented_with_an_example() -> None:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    documented = {c.text.split()[1] for c in COMMANDS if c.source.startswith("docs/cli.md")}
    for name in sub.choices:
        assert f"## `mlmd-log {name}`" in text, f"docs/cli.md has no section for `mlmd-log {name}`"
        assert name in documented, f"docs/cli.md has no runnable example of `mlmd-log {name}`"
