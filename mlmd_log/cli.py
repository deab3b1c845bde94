"""The ``mlmd-log`` command: a thin layer over the library API.

Commands take the same ``--log URL`` and ``--db PATH`` options (env
``MLMD_LOG_LOG``, ``MLMD_LOG_DB``). Errors print one line (no traceback unless
``--debug``) and exit non-zero.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from mlmd_log.errors import MlmdLogError
from mlmd_log.settings import Settings


def _project(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.projector.loop import ProjectorLoop
    from mlmd_log.projector.transport import KafkaLogReader
    from mlmd_log.store import open_duckdb
    from mlmd_log.urls import KafkaLogUrl, parse_log_url

    url = parse_log_url(args.log or settings.log)
    if not isinstance(url, KafkaLogUrl):
        print("the embedded log is projected as it is written; `project` needs --log kafka://...", file=sys.stderr)
        return 2
    db = args.db or settings.db
    if not db:
        print("`project` needs --db PATH (or MLMD_LOG_DB)", file=sys.stderr)
        return 2
    loop = ProjectorLoop(open_duckdb(db), KafkaLogReader(settings, list(url.bootstrap), url.topic), settings)
    started, done = time.monotonic(), [0]

    def progress(report: object) -> None:
        done[0] += len(report.outcomes)  # type: ignore[attr-defined]
        rate = done[0] / max(time.monotonic() - started, 1e-6)
        print(f"\rprojected {done[0]:,} ops at position {loop.position:,} ({rate:,.0f} ops/s)", end="", file=sys.stderr)

    try:
        loop.run(until_caught_up=not args.follow, on_batch=progress)
    except KeyboardInterrupt:
        pass
    finally:
        loop.stop()
        print(file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.demo import run_demo

    return run_demo(args.db or "mlmd-demo.duckdb")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlmd-log", description="An event-sourced ML Metadata store.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="record a small ML pipeline in an embedded store and answer questions about it")
    demo.add_argument("--db", help="DuckDB file for the demo (default mlmd-demo.duckdb, recreated)")
    demo.set_defaults(run=_demo)
    project = sub.add_parser("project", help="project a Kafka log into a DuckDB file, exactly once")
    project.add_argument("--log", help="kafka://host:port/topic (env MLMD_LOG_LOG)")
    project.add_argument("--db", help="DuckDB file to project into (env MLMD_LOG_DB)")
    project.add_argument("--follow", action="store_true", help="keep running after catching up (Ctrl-C stops)")
    project.set_defaults(run=_project)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args, Settings()))
    except MlmdLogError as err:
        if args.debug:
            raise
        print(f"mlmd-log: {type(err).__name__}: {err.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
