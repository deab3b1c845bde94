"""MLMD source stores: open a SQLite file or a MySQL/MariaDB database in one consistent read snapshot.

A source is a DB-API connection plus its parameter style. SQLite is read inside a deferred ``BEGIN`` (the
first SELECT takes a read snapshot that writers in other connections do not disturb); MySQL inside
``START TRANSACTION WITH CONSISTENT SNAPSHOT``. Every driver error on opening is translated here, once, into
the typed errors of :mod:`mlmd_log.errors`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from mlmd_log.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    UnauthenticatedError,
    UnavailableError,
)

#: MLMD schema versions this importer reads (ml-metadata 1.14 to 1.17 write version 10).
SUPPORTED_SCHEMA_VERSIONS = (10,)
#: Environment variable holding the MySQL password when the URL carries none.
PASSWORD_ENV = "MLMD_LOG_SOURCE_PASSWORD"

_MLMD_TABLES = ("Type", "Artifact", "Execution", "Context", "Event", "EventPath", "MLMDEnv")


@dataclass(frozen=True)
class MysqlTarget:
    """Where a MySQL-protocol MLMD database lives (``mysql://user:password@host:port/db``)."""

    host: str
    port: int
    database: str
    user: str
    password: str | None


def parse_mysql_url(url: str) -> MysqlTarget:
    """``mysql://user[:password]@host[:port]/db``; the password may come from ``MLMD_LOG_SOURCE_PASSWORD``."""
    parsed = urlparse(url)
    database = parsed.path.lstrip("/")
    if parsed.scheme != "mysql" or not parsed.hostname or not database:
        raise InvalidArgumentError(f"not a MySQL URL (mysql://user:password@host:port/db): {url!r}")
    password = unquote(parsed.password) if parsed.password is not None else os.environ.get(PASSWORD_ENV)
    return MysqlTarget(parsed.hostname, parsed.port or 3306, database, unquote(parsed.username or "root"), password)


class Source:
    """One MLMD store read in a single snapshot. ``query`` takes SQL written with ``?`` markers."""

    kind = "sqlite"

    def __init__(self, con: Any, marker: str) -> None:
        self.con = con
        self._marker = marker

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        cur = self.con.cursor()
        cur.execute(sql.replace("?", self._marker) if self._marker != "?" else sql, tuple(params))
        while True:
            rows = cur.fetchmany(5_000)
            if not rows:
                break
            yield from rows
        cur.close()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return next(iter(self.query(sql, params)), None)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MysqlSource(Source):
    kind = "mysql"


def _check_schema(source: Source, where: str) -> None:
    """Refuse anything but an MLMD store of a supported schema version, naming what was found."""
    try:
        row = source.one("SELECT max(schema_version) FROM MLMDEnv")
    except Exception as err:
        raise FailedPreconditionError(f"{where} is not an MLMD store (no MLMDEnv table: {err})") from err
    version = row[0] if row else None
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise FailedPreconditionError(
            f"{where} has MLMD schema version {version}; supported: "
            f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))} (ml-metadata 1.14 to 1.17)"
        )


def open_sqlite(path: str) -> Source:
    """An MLMD SQLite file, read-only, in one read transaction."""
    if not os.path.isfile(path):
        raise NotFoundError(f"no MLMD SQLite file at {path}")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        con.execute("BEGIN")
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        raise FailedPreconditionError(f"{path} is not a readable SQLite database: {err}") from err
    missing = [t for t in _MLMD_TABLES if t not in names]
    if missing:
        con.close()
        raise FailedPreconditionError(f"{path} is not an MLMD store (missing tables: {', '.join(missing)})")
    source = Source(con, "?")
    _check_schema(source, path)
    try:
        source.one("PRAGMA quick_check")
    except sqlite3.DatabaseError as err:
        con.close()
        raise FailedPreconditionError(f"{path} is corrupt: {err}") from err
    return source


def connect_mysql(url: str) -> Any:
    """A PyMySQL connection (autocommit off) to ``url``; refusals become typed errors naming the server."""
    target = parse_mysql_url(url)
    try:
        import pymysql
    except ImportError as err:
        raise FailedPreconditionError("MySQL needs PyMySQL: pip install 'mlmd-log[mysql]'") from err
    try:
        return pymysql.connect(
            host=target.host, port=target.port, user=target.user, password=target.password or "",
            database=target.database, connect_timeout=10, autocommit=False,
        )
    except pymysql.err.OperationalError as err:
        code = err.args[0] if err.args else 0
        where = f"{target.user}@{target.host}:{target.port}/{target.database}"
        if code in (1044, 1045, 1698):
            raise UnauthenticatedError(f"MySQL refused the credentials for {where}: {err.args[-1]}") from err
        if code == 1049:
            raise NotFoundError(f"no database {target.database!r} on {target.host}:{target.port}") from err
        raise UnavailableError(f"cannot connect to MySQL at {where}: {err.args[-1]}") from err


def mysql_tables(con: Any) -> set[str]:
    cur = con.cursor()
    cur.execute("SHOW TABLES")
    return {r[0] for r in cur.fetchall()}


def open_mysql(url: str) -> Source:
    """An MLMD MySQL/MariaDB database in one consistent snapshot (needs the ``mysql`` extra: PyMySQL)."""
    con = connect_mysql(url)
    database = parse_mysql_url(url).database
    con.cursor().execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    con.cursor().execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    source = MysqlSource(con, "%s")
    missing = [t for t in _MLMD_TABLES if t not in mysql_tables(con)]
    if missing:
        con.close()
        raise FailedPreconditionError(
            f"mysql database {database!r} is not an MLMD store (missing tables: {', '.join(missing)})"
        )
    _check_schema(source, f"mysql database {database!r}")
    return source


def open_source(spec: str) -> Source:
    """A SQLite path (or ``sqlite:///path``) or a ``mysql://`` URL."""
    if spec.startswith("mysql://"):
        return open_mysql(spec)
    return open_sqlite(spec.removeprefix("sqlite:///") if spec.startswith("sqlite:///") else spec)
