"""The ``mlmd-log`` command: a thin layer over the library API.

Commands take the same ``--log URL`` and ``--db PATH`` options (env
``MLMD_LOG_LOG``, ``MLMD_LOG_DB``) and one ``--format table|json|csv``
output option. Errors print one line (no traceback unless ``--debug``).
Exit codes: 0 success, 1 an mlmd-log error, 2 a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from mlmd_log.errors import InvalidArgumentError, MlmdLogError
from mlmd_log.output import FORMATS, node_row, render
from mlmd_log.settings import Settings


def _db_path(args: argparse.Namespace, settings: Settings) -> str:
    from mlmd_log.urls import DuckDBLogUrl, parse_log_url

    if getattr(args, "db", None):
        return str(args.db)
    if settings.db:
        return settings.db
    url = parse_log_url(getattr(args, "log", None) or settings.log)
    if isinstance(url, DuckDBLogUrl):
        return url.path
    raise InvalidArgumentError("this command reads a DuckDB file: pass --db PATH (or MLMD_LOG_DB)")


def _reader(args: argparse.Namespace, settings: Settings) -> Any:
    from mlmd_log.store import open_reader

    return open_reader(_db_path(args, settings))


def _project(args: argparse.Namespace, settings: Settings) -> int:
    import json
    import signal

    from mlmd_log.projector.loop import ProjectorLoop
    from mlmd_log.projector.transport import KafkaLogReader
    from mlmd_log.store import open_duckdb
    from mlmd_log.urls import KafkaLogUrl, parse_log_url

    url = parse_log_url(args.log or settings.log)
    if not isinstance(url, KafkaLogUrl):
        raise InvalidArgumentError("the embedded log is projected as it is written; `project` needs --log kafka://...")
    con = open_duckdb(_db_path(args, settings))
    loop = ProjectorLoop(con, KafkaLogReader(settings, list(url.bootstrap), url.topic), settings)
    previous = {sig: signal.signal(sig, lambda *_: loop.request_stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
    started, done, last_status = time.monotonic(), [0], [0.0]
    show = sys.stderr.isatty()

    def progress(report: Any) -> None:
        done[0] += len(report.outcomes) if report is not None else 0
        now = time.monotonic()
        if not (show or args.status_file) or now - last_status[0] < 1.0:
            return
        last_status[0] = now
        rate = done[0] / max(now - started, 1e-6)
        lag = loop.lag()
        if show:
            print(f"\rprojected {done[0]:,} ops, position {loop.position:,}, lag {lag:,} ({rate:,.0f} ops/s)   ",
                  end="", file=sys.stderr)
        if args.status_file:
            status = {"position": loop.position, "lag": lag, "ops": done[0], "ops_per_s": round(rate, 1),
                      "time": time.time()}
            tmp = f"{args.status_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump(status, out)
            os.replace(tmp, args.status_file)

    try:
        loop.run(until_caught_up=not args.follow, on_batch=progress)
    finally:
        loop.stop()
        con.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"{chr(10) if show else ''}projected {done[0]:,} ops; checkpoint at position {loop.position}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.demo import run_demo

    return run_demo(args.db or "mlmd-demo.duckdb", kafka=args.kafka, bootstrap=args.bootstrap, topic=args.topic)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.grpc_server import main as serve_main

    argv = ["--host", args.host, "--port", str(args.port), "--max-workers", str(args.max_workers)]
    for flag, value in (("--log", args.log), ("--db", args.db), ("--tls-key", args.tls_key),
                        ("--tls-cert", args.tls_cert), ("--tls-client-ca", args.tls_client_ca),
                        ("--port-file", args.port_file)):
        if value:
            argv += [flag, value]
    return serve_main(argv)


def _sql(args: argparse.Namespace, settings: Settings) -> int:
    print(render(_reader(args, settings).sql(args.query), args.format))
    return 0


def _history(args: argparse.Namespace, settings: Settings) -> int:
    versions = _reader(args, settings).get_history(args.kind, args.id)
    rows = [
        {"valid_from": v.valid_from, "valid_to": v.valid_to, "op_id": v.change.op_id, "team": v.change.team,
         "service": v.change.service, "user": v.change.user, "time_ms": v.change.time_ms, **node_row(v.node)}
        for v in versions
    ]
    print(render(rows, args.format))
    return 0


def _ops(args: argparse.Namespace, settings: Settings) -> int:
    print(render(_reader(args, settings).get_op_log(args.after, args.up_to), args.format))
    return 0


def _lineage(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.query.lineage import BIDIRECTIONAL, DOWNSTREAM, UPSTREAM, traverse

    reader = _reader(args, settings)
    direction = {"up": UPSTREAM, "down": DOWNSTREAM, "both": BIDIRECTIONAL}[args.direction]
    kind = "artifact" if args.artifact is not None else "execution"
    start = args.artifact if args.artifact is not None else args.execution
    reached = traverse(reader.con, start_kind=kind, start_ids=[start], max_hops=args.hops, direction=direction,
                       position=args.as_of)
    nodes = [{"kind": "artifact", **node_row(a)} for a in reader.get_artifacts_by_id(reached.artifact_ids, as_of=args.as_of)]
    nodes += [{"kind": "execution", **node_row(e)} for e in reader.get_executions_by_id(reached.execution_ids, as_of=args.as_of)]
    print(render(nodes, args.format))
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.projector.replay import replay_archive
    from mlmd_log.store import open_duckdb

    if os.path.exists(args.to):
        raise InvalidArgumentError(f"{args.to} exists: replay builds a new file (remove it first)")
    source = _reader(args, settings).con
    target = open_duckdb(args.to)
    total = source.execute(
        "SELECT count(*) FROM op_archive WHERE ? IS NULL OR position <= ?", [args.up_to, args.up_to]
    ).fetchone()
    started = time.monotonic()

    def progress(done: int) -> None:
        if sys.stderr.isatty():
            print(f"\rreplayed {done:,}/{total[0] if total else 0:,} ops", end="", file=sys.stderr)

    count = replay_archive(source, target, up_to=args.up_to, progress=progress)
    print(f"\nreplayed {count:,} ops into {args.to} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlmd-log", description="An event-sourced ML Metadata store.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Any, help_text: str, *, db: bool = True, fmt: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if db:
            p.add_argument("--log", help="log URL: duckdb:///PATH or kafka://HOST:PORT/TOPIC (env MLMD_LOG_LOG)")
            p.add_argument("--db", help="DuckDB projection file (env MLMD_LOG_DB)")
        if fmt:
            p.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
        p.set_defaults(run=run)
        return p

    demo = command("demo", _demo, "record a TFX-style pipeline and answer design questions about it "
                   "(embedded by default)", db=False, fmt=False)
    demo.add_argument("--db", help="DuckDB file for the demo (default mlmd-demo.duckdb, recreated)")
    demo.add_argument("--kafka", action="store_true",
                      help="run through a local tansu broker it starts and stops (pip install 'mlmd-log[local]')")
    demo.add_argument("--bootstrap", metavar="HOST:PORT", help="run through an existing Kafka")
    demo.add_argument("--topic", help="topic for --kafka/--bootstrap (default: a new one per run)")
    serve = command("serve", _serve, "serve MLMD's gRPC API (the server projects the log and owns the DuckDB file)",
                    fmt=False)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    serve.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    serve.add_argument("--max-workers", type=int, default=8, help="concurrent requests")
    serve.add_argument("--tls-key", help="server private key (PEM); with --tls-cert enables TLS")
    serve.add_argument("--tls-cert", help="server certificate chain (PEM)")
    serve.add_argument("--tls-client-ca", help="require client certificates signed by this CA (PEM)")
    serve.add_argument("--port-file", help="write the bound port here once serving")
    project = command("project", _project, "project a Kafka log into a DuckDB file, exactly once", fmt=False)
    project.add_argument("--follow", action="store_true", help="keep running after catching up (Ctrl-C or SIGTERM stops)")
    project.add_argument("--status-file", help="keep position, lag and ops/s as JSON in this file (updated every second)")
    sql = command("sql", _sql, "run one read-only SELECT over the projection")
    sql.add_argument("query", help="a single SELECT statement")
    history = command("history", _history, "every version of a node with the op and producer that wrote it")
    history.add_argument("kind", choices=("artifact", "execution", "context"))
    history.add_argument("id", type=int)
    ops = command("ops", _ops, "the op log: position, op, outcome, producer, times, rejection")
    ops.add_argument("--after", type=int, default=-1, help="only ops after this log position")
    ops.add_argument("--up-to", type=int, default=None, help="only ops up to this log position")
    lineage = command("lineage", _lineage, "the nodes reachable from an artifact or execution through events")
    start = lineage.add_mutually_exclusive_group(required=True)
    start.add_argument("--artifact", type=int, help="start from this artifact id")
    start.add_argument("--execution", type=int, help="start from this execution id")
    lineage.add_argument("--direction", choices=("up", "down", "both"), default="up")
    lineage.add_argument("--hops", type=int, default=20)
    lineage.add_argument("--as-of", type=int, default=None, help="read as of this log position")
    replay = command("replay", _replay, "rebuild a projection in a new file from a DuckDB file's op archive", fmt=False)
    replay.add_argument("--to", required=True, help="the new DuckDB file")
    replay.add_argument("--up-to", type=int, default=None, help="stop after this log position")
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
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
