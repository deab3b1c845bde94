"""Log URLs: where a store's log lives, parsed once into a frozen value.

Two forms exist, and every entry point (``connect``, ``--log``, ``MLMD_LOG_LOG``)
accepts exactly these:

* ``duckdb:///path/to/file.duckdb`` -- the embedded log (the ``ops`` table of a
  DuckDB file). As with SQLAlchemy, everything after ``duckdb:///`` is the path,
  verbatim: ``duckdb:///mlmd.duckdb`` is relative to the working directory,
  ``duckdb:////var/mlmd.duckdb`` is absolute, ``duckdb:///:memory:`` is an
  in-memory database.
* ``kafka://host:port[,host:port...]/topic`` -- a Kafka topic and the bootstrap
  servers to find it. The port is required (no silent 9092), the topic must be a
  legal Kafka topic name. Credentials never go in the URL: they are settings.

Parsing is pure (no I/O, no DNS): a malformed URL raises
:class:`~mlmd_log.errors.ConfigError` whose message shows the expected forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from mlmd_log.errors import ConfigError

EXPECTED_FORMS: Final = (
    "expected duckdb:///path/to/file.duckdb, duckdb:///:memory: "
    "or kafka://host:port[,host:port...]/topic"
)

MEMORY: Final = ":memory:"

#: Kafka's topic name rules (kafka.common.internals.Topic): these characters, 1..249 long, not "." or "..".
_TOPIC_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOST_RE: Final = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")
_DUCKDB_PREFIX: Final = "duckdb:///"
_KAFKA_PREFIX: Final = "kafka://"


@dataclass(frozen=True, slots=True)
class DuckDBLogUrl:
    """The embedded log: a DuckDB file path (relative, absolute, or ``:memory:``)."""

    scheme: ClassVar[Literal["duckdb"]] = "duckdb"
    path: str

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    def __str__(self) -> str:
        return _DUCKDB_PREFIX + self.path


@dataclass(frozen=True, slots=True)
class KafkaLogUrl:
    """A Kafka topic and its bootstrap servers (each ``host:port``, in the order given)."""

    scheme: ClassVar[Literal["kafka"]] = "kafka"
    bootstrap: tuple[str, ...]
    topic: str

    def __str__(self) -> str:
        return f"{_KAFKA_PREFIX}{','.join(self.bootstrap)}/{self.topic}"


LogUrl = DuckDBLogUrl | KafkaLogUrl


def parse_log_url(url: str) -> LogUrl:
    """Parse ``url`` into a :class:`DuckDBLogUrl` or a :class:`KafkaLogUrl`; ConfigError if malformed."""
    if not isinstance(url, str) or not url.strip():
        raise _bad(url, "empty")
    text = url.strip()
    if text.startswith(_DUCKDB_PREFIX):
        path = text[len(_DUCKDB_PREFIX) :]
        if not path:
            raise _bad(url, "no database path after duckdb:///")
        return DuckDBLogUrl(path)
    if text.startswith("duckdb:"):
        raise _bad(url, "a DuckDB URL takes three slashes and no host (duckdb:///relative or duckdb:////absolute)")
    if text.startswith(_KAFKA_PREFIX):
        return _parse_kafka(url, text[len(_KAFKA_PREFIX) :])
    scheme = text.split(":", 1)[0] if ":" in text else ""
    raise _bad(url, f"unknown scheme {scheme!r}" if scheme else "no scheme")


def validate_topic(topic: str) -> str:
    """Return ``topic`` if it is a legal Kafka topic name, else raise ConfigError saying why."""
    if topic in {".", ".."}:
        raise ConfigError(f"invalid Kafka topic {topic!r}: '.' and '..' are reserved")
    if not _TOPIC_RE.fullmatch(topic):
        raise ConfigError(
            f"invalid Kafka topic {topic!r}: use 1 to 249 characters from ASCII letters, digits, '.', '_' and '-'"
        )
    return topic


def _parse_kafka(url: str, rest: str) -> KafkaLogUrl:
    if any(c in rest for c in "?#@"):
        raise _bad(url, "no query, fragment or credentials allowed (credentials are settings)")
    hosts_part, slash, topic = rest.partition("/")
    if not slash or not topic:
        raise _bad(url, "no topic after the servers")
    if "/" in topic:
        raise _bad(url, f"topic {topic!r} contains '/'")
    try:
        validate_topic(topic)
    except ConfigError as err:
        raise _bad(url, err.message) from None
    if not hosts_part:
        raise _bad(url, "no bootstrap servers")
    return KafkaLogUrl(tuple(_parse_server(url, s) for s in hosts_part.split(",")), topic)


def _parse_server(url: str, server: str) -> str:
    host, colon, port = server.rpartition(":")
    if not colon or not host:
        raise _bad(url, f"server {server!r} needs host:port")
    if not _HOST_RE.fullmatch(host):
        raise _bad(url, f"server {server!r} has an invalid host")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise _bad(url, f"server {server!r} needs a port from 1 to 65535")
    return f"{host}:{int(port)}"


def _bad(url: object, reason: str) -> ConfigError:
    return ConfigError(f"invalid log URL {url!r}: {reason}; {EXPECTED_FORMS}")
