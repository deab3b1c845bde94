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

    from mlmd_log.projecting import ProjectStatus, project

    started, last_status = time.monotonic(), [0.0]
    show = sys.stderr.isatty()

    def progress(status: ProjectStatus, final: bool) -> None:
        now = time.monotonic()
        # The status file shows committed work only: it appears once the first transaction has committed, or
        # when the log is idle (everything polled before is committed).
        status_due = bool(args.status_file) and status.committed
        if not (show or status_due) or (now - last_status[0] < 1.0 and not final):
            return
        last_status[0] = now
        rate = status.ops / max(now - started, 1e-6)
        lag = status.lag()
        if show:
            print(f"\rprojected {status.ops:,} ops, position {status.position:,}, lag {lag:,} ({rate:,.0f} ops/s)   ",
                  end="", file=sys.stderr)
        if status_due:  # position: the last committed (a transaction may be in flight)
            record = {"position": status.position, "lag": lag, "ops": status.ops, "ops_per_s": round(rate, 1),
                      "skipped_offsets": status.skipped_offsets, "time": time.time()}
            tmp = f"{args.status_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.replace(tmp, args.status_file)

    done = project(args.log or settings.log, _db_path(args, settings), settings, follow=args.follow,
                   on_progress=progress)
    skipped = (f"; {done.skipped_offsets:,} offsets were holes in the log (see the warnings)"
               if done.skipped_offsets else "")
    print(f"{chr(10) if show else ''}projected {done.ops:,} ops; checkpoint at position {done.position}{skipped}",
          file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.demo import run_demo

    return run_demo(args.db or "mlmd-demo.duckdb", kafka=args.kafka, bootstrap=args.bootstrap, topic=args.topic)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.grpc.server import run

    return run(args, settings)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.migrate.importer import import_store

    report = import_store(args.source, args.log, args.db, settings, progress=not args.quiet)
    print(f"imported MLMD store {report.store_id}: {report.rows:,} rows, {report.appended:,} ops appended, "
          f"{report.skipped:,} already in the log", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.migrate.exporter import export_store

    report = export_store(_reader(args, settings), args.to, args.as_of, progress=not args.quiet)
    print(f"exported {report.rows:,} rows as of position {report.position} to {args.to}", file=sys.stderr)
    return 0


def _openlineage(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.http.openlineage_kafka import consume
    from mlmd_log.store import connect
    from mlmd_log.urls import KafkaLogUrl, parse_log_url

    source = parse_log_url(args.from_url)
    if not isinstance(source, KafkaLogUrl):
        raise InvalidArgumentError(f"--from takes kafka://HOST:PORT/TOPIC, not {args.from_url}")
    with connect(args.log or settings.log, args.db or settings.db, settings) as store:
        report = consume(store, source, settings, follow=args.follow)
    print(f"applied {report.applied:,} OpenLineage events ({report.retries:,} already applied, "
          f"{report.invalid:,} invalid); next offset {report.next_offset}", file=sys.stderr)
    return 0


def _ui(args: argparse.Namespace, settings: Settings) -> int:
    from mlmd_log.ui.app import serve_ui

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
    from mlmd_log.query.lineage import BIDIRECTIONAL, DOWNSTREAM, UPSTREAM

    direction = {"up": UPSTREAM, "down": DOWNSTREAM, "both": BIDIRECTIONAL}[args.direction]
    kind, start = ("artifact", args.artifact) if args.artifact is not None else ("execution", args.execution)
    artifacts, executions = _reader(args, settings).get_reachable_nodes(
        kind, start, max_hops=args.hops, direction=direction, as_of=args.as_of
    )
    nodes = [{"kind": "artifact", **node_row(a)} for a in artifacts]
    nodes += [{"kind": "execution", **node_row(e)} for e in executions]
    print(render(nodes, args.format))
    return 0


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
    from mlmd_log.projector.replay import ReplayProgress
    from mlmd_log.rebuild import rebuild

    tty = sys.stderr.isatty()
    started, shown = time.monotonic(), [0.0]

    def progress(p: ReplayProgress) -> None:
        now = time.monotonic()
        if now - shown[0] < (0.5 if tty else 10.0):
            return
        shown[0] = now
        line = f"replayed {p.records:,} ops, position {p.position:,} of {p.target:,}"
        print(f"\r{line}   " if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    done = rebuild(
        args.to, settings, from_url=args.from_url, db=args.db, log=args.log, up_to=args.up_to,
        up_to_time_ms=_up_to_time_ms(args.up_to_time), verify=args.verify, progress=progress,
        announce=lambda described: print(f"replaying {described} into {args.to}", file=sys.stderr),
    )
    print(f"{chr(13) if tty else ''}replayed {done.records:,} ops into {args.to} (checkpoint at position "
          f"{done.position}) in {time.monotonic() - started:.1f} s", file=sys.stderr)
    if done.verified_with is not None:
        print(f"verified: {args.to} equals {done.verified_with} at position {done.position}, table by table",
              file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from mlmd_log.grpc.options import add_arguments as add_server_arguments

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
                    db=False, fmt=False)
    add_server_arguments(serve)
    openlineage = command("openlineage", _openlineage, "apply OpenLineage events from the Kafka topic its client's "
                          "Kafka transport writes to (idempotent: events already applied append nothing)", fmt=False)
    openlineage.add_argument("--from", dest="from_url", required=True, metavar="kafka://HOST:PORT/TOPIC",
                             help="the topic of OpenLineage events (one partition)")
    openlineage.add_argument("--follow", action="store_true", help="keep consuming after catching up")
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
    imp = command("import", _import, "copy an MLMD store (SQLite file or mysql://user:password@host:port/db, "
                  "schema 10) into an empty log, ids and times kept; re-running resumes", fmt=False)
    imp.add_argument("source", help="MLMD SQLite file, or mysql://... (password also from MLMD_LOG_SOURCE_PASSWORD)")
    imp.add_argument("--quiet", action="store_true", help="no progress on stderr")
    exp = command("export", _export, "write the state at a log position as an MLMD store (schema 10) that "
                  "ml-metadata opens", fmt=False)
    exp.add_argument("--to", required=True, help="sqlite:///PATH (a new file) or mysql://user:password@host:port/db")
    exp.add_argument("--as-of", default=None, help="a log position, or an ISO 8601 time (default: the latest)")
    exp.add_argument("--quiet", action="store_true", help="no progress on stderr")
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
