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

    from mlmd_log.projector import catalog
    from mlmd_log.projector.loop import ProjectorLoop
    from mlmd_log.projector.transport import KafkaLogReader
    from mlmd_log.store import open_duckdb
    from mlmd_log.urls import KafkaLogUrl, parse_log_url

    url = parse_log_url(args.log or settings.log)
    if not isinstance(url, KafkaLogUrl):
        raise InvalidArgumentError("the embedded log is projected as it is written; `project` needs --log kafka://...")
    # Only the loop uses this connection, so the file can be attached with the projector's row groups.
    con = open_duckdb(_db_path(args, settings), settings, row_group_size=catalog.ROW_GROUP_SIZE)
    # A dedicated projector: DuckDB's cache of the blocks it wrote is kept small (its RSS stays flat).
    source = KafkaLogReader(settings, list(url.bootstrap), url.topic)
    loop = ProjectorLoop(con, source, settings, cache_mb=settings.projector_cache_mb)
    previous = {sig: signal.signal(sig, lambda *_: loop.request_stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
    started, done, last_status = time.monotonic(), [0], [0.0]
    show = sys.stderr.isatty()
    first_position = loop.position

    def progress(report: Any, *, final: bool = False) -> None:
        done[0] += len(report.outcomes) if report is not None else 0
        now = time.monotonic()
        # The status file shows committed work only: it appears once the first transaction has committed, or
        # when the log is idle (report None: everything polled before is committed).
        status_due = bool(args.status_file) and (final or report is None or loop.position != first_position)
        if not (show or status_due) or (now - last_status[0] < 1.0 and not final):
            return
        last_status[0] = now
        rate = done[0] / max(now - started, 1e-6)
        lag = loop.lag()
        if show:
            print(f"\rprojected {done[0]:,} ops, position {loop.position:,}, lag {lag:,} ({rate:,.0f} ops/s)   ",
                  end="", file=sys.stderr)
        if status_due:  # position: the last committed (a transaction may be in flight)
            status = {"position": loop.position, "lag": lag, "ops": done[0], "ops_per_s": round(rate, 1),
                      "skipped_offsets": source.skipped, "time": time.time()}
            tmp = f"{args.status_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump(status, out)
            os.replace(tmp, args.status_file)

    try:
        loop.run(until_caught_up=not args.follow, on_batch=progress)
        progress(None, final=True)  # everything is committed now
    finally:
        loop.stop()
        con.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    skipped = f"; {source.skipped:,} offsets were holes in the log (see the warnings)" if source.skipped else ""
    print(f"{chr(10) if show else ''}projected {done[0]:,} ops; checkpoint at position {loop.position}{skipped}",
          file=sys.stderr)
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


def _ui(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from mlmd_log.ui.app import serve_ui
    except ModuleNotFoundError as err:
        raise InvalidArgumentError(f"mlmd-log ui needs {err.name}: pip install 'mlmd-log[ui]'") from err
    return serve_ui(_db_path(args, settings), host=args.host, port=args.port, open_browser=not args.no_browser)


def _param(text: str) -> Any:
    """A ``--param`` value: a JSON literal when it parses as one (``42``, ``1.5``, ``true``, ``"42"``), else the text."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def _sql(args: argparse.Namespace, settings: Settings) -> int:
    params = [_param(p) for p in args.param] if args.param else None
    print(render(_reader(args, settings).sql(args.query, params), args.format))
    return 0


def _entity_changes(args: argparse.Namespace, settings: Settings) -> int:
    changes = _reader(args, settings).get_entity_changes(
        args.after, args.up_to, kind=args.kind, entity_id=args.id
    )
    rows = []
    for c in changes:
        who = {"op_id": c.change.op_id, "payload": c.change.payload, "team": c.change.team,
               "service": c.change.service, "user": c.change.user, "host": c.change.host, "time_ms": c.change.time_ms}
        head = {"position": c.position, "kind": c.kind, "id": c.ids[0],
                "related_id": c.ids[1] if len(c.ids) > 1 else None, "action": c.action}
        for f in c.fields or (None,):
            rows.append({**head, "field": f.field if f else None, "old": f.old if f else None,
                         "new": f.new if f else None, **who})
    print(render(rows, args.format))
    return 0


def _history(args: argparse.Namespace, settings: Settings) -> int:
    if args.after is not None or args.up_to is not None:
        if args.after is None:
            args.after = -1
        return _entity_changes(args, settings)
    if args.kind not in ("artifact", "execution", "context") or args.id is None:
        raise InvalidArgumentError(
            "history needs KIND ID (an artifact, execution or context) for versions, or --after/--up-to for changes"
        )
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


def _replay_source(args: argparse.Namespace, settings: Settings) -> tuple[Any, str, str | None]:
    """(the log source, its description, the projection file to verify against) for ``replay``."""
    from mlmd_log.projector.replay import ArchiveSource
    from mlmd_log.store import open_reader
    from mlmd_log.urls import DuckDBLogUrl, parse_log_url

    # --from names the log; else the op archive of --db; else --log (a Kafka topic or an embedded file).
    named = args.from_url or (None if args.db or settings.db else args.log or settings.log)
    url = parse_log_url(named) if named else None
    if isinstance(url, DuckDBLogUrl):
        return ArchiveSource(open_reader(url.path).con), f"the op archive of {url.path}", args.db or url.path
    if url is not None:
        from mlmd_log.projector.transport import KafkaLogReader

        live = args.db or settings.db
        return KafkaLogReader(settings, list(url.bootstrap), url.topic), str(url), live
    path = _db_path(args, settings)
    return ArchiveSource(open_reader(path).con), f"the op archive of {path}", path


def _up_to_time_ms(text: str | None) -> int | None:
    from datetime import datetime

    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidArgumentError(f"--up-to-time {text!r} is not an ISO 8601 time: {err}") from err
    if when.tzinfo is None:
        raise InvalidArgumentError(f"--up-to-time {text!r} needs a timezone, e.g. 2026-01-31T12:00:00Z")
    return int(when.timestamp() * 1000)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.errors import DataLossError, OutOfRangeError
    from mlmd_log.projector import catalog
    from mlmd_log.projector.replay import ReplayProgress, replay
    from mlmd_log.projector.verify import differing_tables
    from mlmd_log.store import open_duckdb, open_reader

    if os.path.exists(args.to):
        raise InvalidArgumentError(f"{args.to} exists: replay builds a new file (remove it first)")
    up_to_time = _up_to_time_ms(args.up_to_time)
    source, described, live_path = _replay_source(args, settings)
    if args.verify and live_path is None:
        raise InvalidArgumentError("--verify compares with a projection file: pass --db PATH")
    tty = sys.stderr.isatty()
    started, shown = time.monotonic(), [0.0]

    def progress(p: ReplayProgress) -> None:
        now = time.monotonic()
        if now - shown[0] < (0.5 if tty else 10.0):
            return
        shown[0] = now
        line = f"replayed {p.records:,} ops, position {p.position:,} of {p.target:,}"
        print(f"\r{line}   " if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    target = open_duckdb(args.to, settings, row_group_size=catalog.ROW_GROUP_SIZE)
    try:
        print(f"replaying {described} into {args.to}", file=sys.stderr)
        try:
            done = replay(source, target, up_to=args.up_to, up_to_time_ms=up_to_time, progress=progress)
        except BaseException:
            target.close()
            os.remove(args.to)  # a replay that did not finish leaves no file behind
            raise
        print(f"{chr(13) if tty else ''}replayed {done.records:,} ops into {args.to} (checkpoint at position "
              f"{done.position}) in {time.monotonic() - started:.1f} s", file=sys.stderr)
        if args.verify:
            assert live_path is not None
            live = open_reader(live_path).con
            try:
                checkpoint = live.execute("SELECT position FROM checkpoint").fetchone()
                if checkpoint is None or checkpoint[0] < done.position:
                    raise OutOfRangeError(
                        f"{live_path} has projected up to position {checkpoint[0] if checkpoint else -1}, "
                        f"not {done.position}: it cannot be compared at that position"
                    )
                differing = differing_tables(live, target, done.position)
            finally:
                live.close()
            if differing:
                raise DataLossError(
                    f"{args.to} differs from {live_path} at position {done.position} in: {', '.join(differing)}"
                )
            print(f"verified: {args.to} equals {live_path} at position {done.position}, table by table",
                  file=sys.stderr)
    finally:
        target.close()
        source.close()
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
    ui = command("ui", _ui, "explore lineage in the browser, with time travel (serves the DuckDB file on a "
                 "loopback port and opens a browser)", fmt=False)
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    ui.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    ui.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    project = command("project", _project, "project a Kafka log into a DuckDB file, exactly once", fmt=False)
    project.add_argument("--follow", action="store_true", help="keep running after catching up (Ctrl-C or SIGTERM stops)")
    project.add_argument("--status-file", help="keep position, lag and ops/s as JSON in this file (updated every second)")
    sql = command("sql", _sql, "run one read-only SELECT over the projection (tables, views and macros of "
                  "docs/schema.md)")
    sql.add_argument("query", help="a single SELECT statement; ? marks a --param")
    sql.add_argument("--param", "-p", action="append", metavar="VALUE",
                     help="a value for the next ? (repeatable); JSON literals (42, true, \"42\") keep their type")
    history = command("history", _history, "every version of a node with the op and producer that wrote it; "
                      "with --after/--up-to, every entity changed between two log positions")
    history.add_argument("kind", nargs="?", help="artifact, execution or context (with --after/--up-to also type, "
                         "event, attribution, association or parent_context)")
    history.add_argument("id", nargs="?", type=int, help="the node's id")
    history.add_argument("--after", type=int, default=None,
                         help="list entity changes after this log position (exclusive)")
    history.add_argument("--up-to", type=int, default=None,
                         help="list entity changes up to this log position (inclusive)")
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
    replay = command("replay", _replay, "rebuild a projection in a new file by applying the log again: a Kafka "
                     "topic (--from) or a DuckDB file's op archive", fmt=False)
    replay.add_argument("--to", required=True, help="the new DuckDB file")
    replay.add_argument("--from", dest="from_url", metavar="URL",
                        help="the log to replay: kafka://HOST:PORT/TOPIC, or duckdb:///PATH for that file's op "
                        "archive (default: the op archive of --db, else --log)")
    stop = replay.add_mutually_exclusive_group()
    stop.add_argument("--up-to", type=int, default=None, help="stop after this log position")
    stop.add_argument("--up-to-time", metavar="ISO8601",
                      help="stop after the last op whose log time is at or before this time (timezone required)")
    replay.add_argument("--verify", action="store_true",
                        help="check the new file equals the projection (--db) at the position reached, table by table")
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
