"""MLMD's gRPC service (``ml_metadata.MetadataStoreService``) over one :class:`~mlmd_log.store.MetadataStore`.

Existing MLMD clients (``ml_metadata.MetadataStore(MetadataStoreClientConfig(host=..., port=...))``, TFX,
Kubeflow Pipelines) point at this server unchanged. The server owns the store, and so its DuckDB file and
its projector: writes are appended to the log and answered once this projector has applied them
(read-your-writes, MLMD's status codes on rejection); reads are served from DuckDB by a pool of worker
threads, each with its own cursor. :func:`serve` starts it in this process; ``python -m mlmd_log.grpc
--log URL --db PATH --port N`` runs it as a process.

Security: it binds to loopback unless told otherwise; TLS (optionally requiring client certificates) and a
bearer token (metadata ``authorization: Bearer <token>``, checked in constant time) are opt-in. MLMD's own
client can use TLS but cannot send a token.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import grpc
from pydantic import SecretStr

from mlmd_log.errors import InvalidArgumentError, UnavailableError
from mlmd_log.grpc.common import log
from mlmd_log.grpc.options import DEFAULT_MAX_MESSAGE_BYTES, add_arguments
from mlmd_log.grpc.principal import PrincipalInterceptor
from mlmd_log.grpc.reads import ReadHandlers
from mlmd_log.grpc.store import SharedStore
from mlmd_log.grpc.writes import WriteHandlers
from mlmd_log.principals import Authenticator
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2_grpc as svc_grpc
from mlmd_log.settings import ServerToken, Settings
from mlmd_log.store import MetadataStore

#: Environment variable the command line reads the bearer token from (never from argv, where ``ps`` shows it).
TOKEN_ENV: Final = "MLMD_LOG_SERVER_TOKEN"
#: How often the serving process looks for a stop signal (see ``_wait_for_stop``).
_STOP_POLL_S: Final = 0.2


class MetadataStoreServicer(WriteHandlers, ReadHandlers, svc_grpc.MetadataStoreServiceServicer):
    """Every rpc of ``ml_metadata.MetadataStoreService``, translated to the store's API and back."""


@dataclass(frozen=True)
class TlsConfig:
    """The server's key and certificate chain (PEM); with ``client_ca``, clients must present a certificate it signed."""

    private_key: bytes
    certificate_chain: bytes
    client_ca: bytes | None = None

    @classmethod
    def from_files(cls, key: str | Path, cert: str | Path, client_ca: str | Path | None = None) -> TlsConfig:
        return cls(
            Path(key).read_bytes(), Path(cert).read_bytes(), Path(client_ca).read_bytes() if client_ca else None
        )

    def credentials(self) -> Any:
        return grpc.ssl_server_credentials(
            [(self.private_key, self.certificate_chain)],
            root_certificates=self.client_ca,
            require_client_auth=self.client_ca is not None,
        )


class _BearerToken(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuses every call whose ``authorization`` metadata is not ``Bearer <token>`` (UNAUTHENTICATED)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def deny(request: Any, context: Any) -> None:
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong bearer token: send metadata 'authorization: Bearer <token>'",
            )

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else bytes(value)
                if hmac.compare_digest(given, self._expected):
                    return continuation(handler_call_details)
        return self._deny


class GrpcServer:
    """A running server: ``address``, ``port``; :meth:`stop` ends it (the store stays open: its owner closes it)."""

    def __init__(
        self, server: Any, executor: futures.ThreadPoolExecutor, shared: SharedStore, host: str, port: int
    ) -> None:
        self._server = server
        self._executor = executor
        self._shared = shared
        self.host = host
        self.port = port
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        """``host:port`` as a gRPC target (IPv6 hosts in brackets)."""
        return f"{_bracket(self.host)}:{self.port}"

    def stop(self, grace: float | None = 5.0) -> None:
        """Stop accepting calls, let running ones finish for ``grace`` seconds, then release the cursors."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.stop(grace).wait()
        self._executor.shutdown(wait=True)
        self._shared.close()

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return bool(self._server.wait_for_termination(timeout))

    def __enter__(self) -> GrpcServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def serve(
    store: MetadataStore,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_workers: int = 32,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    tls: TlsConfig | None = None,
    token: str | SecretStr | None = None,
    tokens: Mapping[str, ServerToken] | None = None,
) -> GrpcServer:
    """Serve ``store`` over gRPC on ``host:port`` (0: a free port, see ``.port``) and return the running server.

    ``max_workers`` threads answer calls concurrently. Requests over ``max_message_bytes`` are refused by gRPC
    with RESOURCE_EXHAUSTED, and so are answers that would exceed it (with a message saying how to page).
    ``tls`` serves TLS only; ``token`` requires ``authorization: Bearer <token>`` on every call. ``tokens``
    (named, read or write scope) and client certificates name the principal stamped on each call's ops
    (:mod:`mlmd_log.grpc.principal`).
    """
    if max_workers < 1:
        raise InvalidArgumentError(f"max_workers must be at least 1, not {max_workers}")
    if max_message_bytes < 1024:
        raise InvalidArgumentError(f"max_message_bytes must be at least 1024, not {max_message_bytes}")
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    if secret is not None and not secret.strip():
        raise InvalidArgumentError("token must not be empty")
    shared = SharedStore(store)
    executor = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="mlmd-log-grpc")
    server = grpc.server(
        executor,
        interceptors=[*([_BearerToken(secret)] if secret else []), PrincipalInterceptor(Authenticator(tokens or {}))],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),  # a taken port is an error, not a silently shared one
        ],
    )
    servicer = MetadataStoreServicer(shared, max_message_bytes)
    svc_grpc.add_MetadataStoreServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    target = f"{_bracket(host)}:{port}"
    try:
        bound = server.add_secure_port(target, tls.credentials()) if tls else server.add_insecure_port(target)
    except RuntimeError as err:
        bound = 0
        log.debug("binding %s failed: %s", target, err)
    if not bound:
        executor.shutdown(wait=False)
        shared.close()
        raise UnavailableError(f"cannot listen on {target}: the address is in use or not available here")
    if host not in ("127.0.0.1", "localhost", "::1") and tls is None and not secret:
        log.warning("serving on %s without TLS or a token: anyone who can reach it can read and write", target)
    server.start()
    log.info("mlmd-log gRPC server listening on %s:%d (%s)", host, bound, "TLS" if tls else "plaintext")
    return GrpcServer(server, executor, shared, host, bound)


def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Open the store ``args`` name (options of :func:`add_arguments`), serve until SIGINT/SIGTERM, close all."""
    from mlmd_log.store import connect

    if bool(args.tls_key) != bool(args.tls_cert):
        raise InvalidArgumentError("--tls-key and --tls-cert go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python logs every connection at INFO
    # Installed before start-up so that a stop request arriving meanwhile shuts down cleanly once up.
    stop_requested: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stop_requested.append(signum))
    settings = settings or Settings()
    store = connect(args.log or settings.log, args.db or settings.db, settings)
    try:
        server = serve(
            store, args.host, args.port, max_workers=args.max_workers, max_message_bytes=args.max_message_bytes,
            tls=TlsConfig.from_files(args.tls_key, args.tls_cert, args.tls_client_ca) if args.tls_key else None,
            token=os.environ.get(TOKEN_ENV) or None, tokens=settings.server_tokens,
        )
    except BaseException:
        store.close()
        raise
    http = None
    if args.http_port is not None:
        from mlmd_log.http.app import HttpTls, serve_http

        try:
            http = serve_http(store, args.host, args.http_port, settings=settings, tls=HttpTls(
                args.tls_key, args.tls_cert, args.tls_client_ca) if args.tls_key else None)
        except BaseException:
            server.stop()
            store.close()
            raise
        _write_port(args.http_port_file, http.port)
        print(f"HTTP API on {http.url}", flush=True)
    if args.port_file:
        tmp = Path(f"{args.port_file}.tmp")
        tmp.write_text(f"{server.port}\n")
        tmp.replace(args.port_file)  # readers never see a half-written file
    print(f"listening on {server.address}", flush=True)
    try:
        _wait_for_stop(stop_requested)
    finally:
        if http is not None:
            http.stop()
        server.stop()
        store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mlmd_log.grpc``: the server's options parsed, then :func:`run`."""
    parser = argparse.ArgumentParser(prog="python -m mlmd_log.grpc", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    if bool(args.tls_key) != bool(args.tls_cert):
        parser.error("--tls-key and --tls-cert go together")
    return run(args)


def _write_port(path: str | None, port: int) -> None:
    if path:
        tmp = Path(f"{path}.tmp")
        tmp.write_text(f"{port}\n")
        tmp.replace(path)


def _wait_for_stop(stop_requested: list[int]) -> None:
    """Return once a stop signal's handler ran; then a second SIGINT/SIGTERM interrupts a slow shutdown.

    Linux gives a signal sent to the process to any thread that does not block it (gRPC's, DuckDB's and
    kafka-python's threads included), and Python runs the handler only when the main thread next runs
    Python code. A main thread blocked in an untimed wait (``Event.wait()``) then never returns: a CI run
    hung so. Sleeping in short steps lets the handler run within ``_STOP_POLL_S``. The handler takes no
    lock: ``Event.set()`` inside it would deadlock if the signal arrived while this thread held that lock.
    """
    while not stop_requested:
        time.sleep(_STOP_POLL_S)
    log.info("stopping (signal %d): finishing the calls in progress", stop_requested[0])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
