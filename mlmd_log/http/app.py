"""The HTTP/JSON API's application and server: :func:`create_app` builds it over a store, :func:`serve_http`
runs it with uvicorn in a background thread beside (or without) the gRPC server.

The app shares the store the way the gRPC server does (:class:`~mlmd_log.grpc.store.SharedStore`: one
Reader and DuckDB cursor per worker thread, writes through the store). Requests are authenticated by
bearer token (:mod:`mlmd_log.http.auth`), bodies are capped at ``http_max_body_bytes`` (413 beyond), and
every failure is JSON with MLMD's error class (:mod:`mlmd_log.http.errors`). The OpenAPI 3.1 description is
served at ``/openapi.json``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from mlmd_log import __version__
from mlmd_log.errors import InvalidArgumentError, UnavailableError
from mlmd_log.grpc.store import SharedStore
from mlmd_log.http import (
    errors,
    routes_graph,
    routes_log,
    routes_nodes,
    routes_openlineage,
    routes_sql,
    routes_types,
)
from mlmd_log.http.auth import Authenticator
from mlmd_log.http.limits import BodyLimit
from mlmd_log.http.openlineage_ingest import Ingestor
from mlmd_log.settings import Settings
from mlmd_log.store import MetadataStore

log = logging.getLogger("mlmd_log.http")


def create_app(store: MetadataStore, settings: Settings | None = None) -> FastAPI:
    """The API over ``store`` (which the caller owns and closes), configured by ``settings``."""
    settings = settings or Settings()
    app = FastAPI(
        title="mlmd-log HTTP API",
        version=__version__,
        description="MLMD's read API with as-of, history, changes and SQL, and OpenLineage ingestion, over one "
        "event-sourced ML Metadata store. Bodies use protobuf's JSON mapping of MLMD's messages.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    shared = SharedStore(store)
    app.state.shared = shared
    app.state.authenticator = Authenticator(settings.server_tokens)
    app.state.sql_timeout_s = settings.server_sql_timeout_s
    app.state.ingestor = Ingestor(store, shared)
    errors.install(app)
    for kind in ("artifact", "execution", "context"):
        app.include_router(routes_nodes.node_router(kind))
    for router in (routes_types.router, routes_graph.router, routes_log.router, routes_sql.router,
                   routes_openlineage.router):
        app.include_router(router)
    if not settings.server_tokens:
        # The lineage explorer's pages cannot carry a bearer token, so a server that requires tokens does not
        # serve them (docs/ui.md); without tokens its reads are as open as the API's.
        from mlmd_log.query.reader import Reader
        from mlmd_log.ui.app import ui_router

        # A reader of its own (the explorer serializes its reads on it), sharing the store's caches.
        app.include_router(ui_router(Reader(store.con.cursor(), store.cache, store.links)))
    app.add_middleware(BodyLimit, max_bytes=settings.http_max_body_bytes)
    return app


@dataclass(frozen=True)
class HttpTls:
    """The server's key and certificate (PEM files); with ``client_ca``, clients must present a certificate."""

    keyfile: str
    certfile: str
    client_ca: str | None = None


class HttpServer:
    """A running HTTP server: ``host``, ``port``, ``url``; :meth:`stop` ends it (the store stays open)."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, app: FastAPI, host: str, port: int,
                 tls: bool) -> None:
        self._server = server
        self._thread = thread
        self.app = app
        self.host = host
        self.port = port
        self.scheme = "https" if tls else "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the requests in progress (up to ``timeout`` seconds), stop, release the cursors."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self.app.state.shared.close()

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_http(
    store: MetadataStore, host: str = "127.0.0.1", port: int = 0, *, settings: Settings | None = None,
    tls: HttpTls | None = None, startup_timeout: float = 30.0,
) -> HttpServer:
    """Serve ``store`` over HTTP on ``host:port`` (0: a free port, see ``.port``) in a background thread."""
    settings = settings or Settings()
    if not 0 <= port <= 65535:
        raise InvalidArgumentError(f"port must be 0..65535, not {port}")
    app = create_app(store, settings)
    ssl: dict[str, Any] = {}
    if tls is not None:
        import ssl as ssl_module

        ssl = {"ssl_keyfile": tls.keyfile, "ssl_certfile": tls.certfile}
        if tls.client_ca:
            ssl.update(ssl_ca_certs=tls.client_ca, ssl_cert_reqs=ssl_module.CERT_REQUIRED)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=5, **ssl,
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as err:  # reported to the starting thread below
            failure.append(err)

    thread = threading.Thread(target=run, name="mlmd-log-http", daemon=True)
    thread.start()
    deadline = threading.Event()
    waited = 0.0
    while not server.started and thread.is_alive() and waited < startup_timeout:
        deadline.wait(0.02)
        waited += 0.02
    if not server.started:
        server.should_exit = True
        thread.join(5)
        app.state.shared.close()
        raise UnavailableError(f"cannot serve HTTP on {host}:{port}: the address is in use or not available here"
                               + (f" ({failure[0]})" if failure else ""))
    bound = server.servers[0].sockets[0].getsockname()[1]
    if host not in ("127.0.0.1", "localhost", "::1") and tls is None and not settings.server_tokens:
        log.warning("serving HTTP on %s without TLS or tokens: anyone who can reach it can read and write", host)
    log.info("mlmd-log HTTP API listening on %s:%d", host, bound)
    return HttpServer(server, thread, app, host, int(bound), tls is not None)
