"""The one settings model of an mlmd-log process.

Read once from the environment (prefix ``MLMD_LOG_``) or built in code, then
frozen; constructors take the whole model rather than copies of its fields.
Secrets are ``SecretStr`` so they never print. This module imports nothing
above :mod:`mlmd_log.errors`.
"""

from __future__ import annotations

import getpass
import socket
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class ServerToken(BaseModel):
    """One bearer token a server accepts: its secret and what it may do (``read``, or ``write`` which reads too).

    Its name (the key in :attr:`Settings.server_tokens`) is the principal stamped on the ops it writes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretStr
    scope: Literal["read", "write"] = "read"


class Settings(BaseSettings):
    """Everything one process needs: where the log and the projection live, who it is, how to talk to Kafka."""

    model_config = SettingsConfigDict(env_prefix="MLMD_LOG_", frozen=True, extra="ignore")

    # Where: the log URL (duckdb:///path or kafka://host:port[,host:port]/topic) and the DuckDB projection.
    log: str = "duckdb:///mlmd.duckdb"
    db: str | None = None

    # Who: stamped on every op this process appends.
    team: str = ""
    service: str = ""
    user: str = Field(default_factory=_default_user)
    host: str = Field(default_factory=socket.gethostname)

    # Kafka security, passed through to kafka-python unchanged.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: SecretStr | None = None

    # Producer: delivery and limits.
    linger_ms: int = Field(default=5, ge=0)
    batch_bytes: int = Field(default=1_048_576, gt=0)
    buffer_bytes: int = Field(default=268_435_456, gt=0)
    compression: Literal["zstd", "gzip", "lz4", "snappy", "none"] = "zstd"
    max_op_bytes: int = Field(default=8_388_608, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    delivery_timeout_s: float = Field(default=30.0, gt=0)
    #: Build record batches ourselves and hand them to kafka-python's sender (producer/record_batch.py);
    #: False sends every op through ``KafkaProducer.send`` (slower; the escape hatch).
    fast_send: bool = True

    # Servers (gRPC and HTTP): named bearer tokens, e.g. MLMD_LOG_SERVER_TOKENS='{"ci": {"secret": "...",
    # "scope": "write"}}'. None configured: no token is asked for (the servers bind to loopback by default).
    server_tokens: dict[str, ServerToken] = Field(default_factory=dict)
    #: The HTTP API refuses request bodies larger than this (413).
    http_max_body_bytes: int = Field(default=8_388_608, gt=0)
    #: The longest a SQL query sent to a server may run, in seconds (DeadlineExceededError past it).
    server_sql_timeout_s: float = Field(default=30.0, gt=0)

    # Reads: current nodes kept in memory for point gets (0 disables).
    cache_entries: int = Field(default=100_000, ge=0)

    #: DuckDB's ``memory_limit`` for every projection file this process opens, in MiB (0: DuckDB's own
    #: default, 80% of RAM). DuckDB keeps table blocks and freed allocations up to this limit, so without it
    #: a long-running projector's RSS grows with the database; queries needing more spill to disk.
    db_memory_mb: int = Field(default=256, ge=0)
    #: DuckDB memory a dedicated projector (``mlmd-log project``) keeps between transactions, in MiB (0: up
    #: to ``db_memory_mb``). DuckDB keeps the blocks the projector writes cached up to its limit, so without
    #: this the projector's RSS grows with the file; above it, the projector lets its writer finish and has
    #: DuckDB evict to a quarter of it. A transaction may still use up to ``db_memory_mb``.
    projector_cache_mb: int = Field(default=32, ge=0)
    #: DuckDB's worker threads for a store opened by ``connect()`` (the embedded log, a Kafka store's replica,
    #: and so ``serve``); 0: DuckDB's default (one per core). A store answers many tiny statements (one
    #: orchestrator step is about a dozen), and a statement handed to DuckDB's worker threads waits for them
    #: to be scheduled: with one thread it runs on the caller's. Measured on a busy 2-core machine
    #: (bench/step.py): read-back 2.7 vs 7.0 ms, put 90 vs 111 ms. Raise it for large analytical ``sql()``
    #: scans, which parallelize. ``mlmd-log project`` and ``replay`` keep DuckDB's default.
    db_threads: int = Field(default=1, ge=0)

    # Projector: micro-batch bounds.
    batch_max_ops: int = Field(default=2_000, gt=0)
    #: Bytes of ops per projector transaction: bounds memory, since a batch in flight holds tens of times its
    #: op bytes in Python objects while it is prepared and stored (a single larger op is one transaction).
    batch_max_bytes: int = Field(default=2_097_152, gt=0)
    batch_max_ms: int = Field(default=100, gt=0)
    poll_timeout_ms: int = Field(default=200, gt=0)
    #: How long the projector waits for a hole in the log's offsets to fill, in ms, before it goes on past the
    #: hole with a warning. Our log has no holes on Apache Kafka (idempotent, non-transactional producers, no
    #: compaction); tansu hands out a batch's offsets before it stores the batch, so a reader can see the
    #: batches after one for a moment and not that one (projector/transport.py).
    log_gap_wait_ms: int = Field(default=5_000, ge=0)

    def kafka_security(self) -> dict[str, Any]:
        """kafka-python keyword arguments for the security settings that are set."""
        out: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            out["sasl_mechanism"] = self.sasl_mechanism
        if self.sasl_username is not None:
            out["sasl_plain_username"] = self.sasl_username
        if self.sasl_password is not None:
            out["sasl_plain_password"] = self.sasl_password.get_secret_value()
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.ssl_password is not None:
            out["ssl_password"] = self.ssl_password.get_secret_value()
        return out
