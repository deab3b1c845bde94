"""Serving the lineage explorer: the FastAPI router, an app for one store, and ``mlmd-log ui``.

:func:`ui_router` has the pages (the prebuilt bundle in ``static/``, served
from an allow-list of its files) under ``/ui/`` and the JSON endpoints the pages
read under ``/ui/api/``. The store's DuckDB connection serves one request at a
time, so every read holds one lock. Errors answer as JSON with MLMD's error
class and message (404 for NotFoundError, 400 for other mlmd-log errors).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from mlmd_log.errors import MlmdLogError, NotFoundError
from mlmd_log.query.reader import Reader
from mlmd_log.ui import graph, views

#: Where the built pages are (a folder of the installed package).
STATIC_DIR: Final = str(resources.files("mlmd_log.ui") / "static")
_MEDIA: Final = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".txt": "text/plain",
                 ".png": "image/png", ".svg": "image/svg+xml"}


def _static_files() -> dict[str, str]:
    """The bundle's files by name: only these are served (no path from a request reaches the disk)."""
    if not os.path.isdir(STATIC_DIR):
        return {}
    return {name: os.path.join(STATIC_DIR, name) for name in os.listdir(STATIC_DIR)
            if os.path.splitext(name)[1] in _MEDIA}


def ui_router(store: Reader) -> APIRouter:
    """The explorer's pages and JSON endpoints over ``store``, as a router to include in a FastAPI app."""
    router = APIRouter(prefix="/ui", tags=["ui"])
    lock = threading.Lock()
    files = _static_files()

    def answer(read: Callable[[], dict[str, Any]]) -> Response:
        try:
            with lock:
                body = read()
        except MlmdLogError as err:
            status = 404 if isinstance(err, NotFoundError) else 400
            return JSONResponse({"error": type(err).__name__, "message": err.message}, status_code=status)
        return JSONResponse(body)

    @router.get("/", include_in_schema=False)
    def index() -> Response:
        return FileResponse(files["index.html"], media_type="text/html", headers={"Cache-Control": "no-cache"})

    @router.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        path = files.get(name)
        if path is None:
            return JSONResponse({"error": "NotFoundError", "message": f"no asset {name}"}, status_code=404)
        return FileResponse(path, media_type=_MEDIA[os.path.splitext(name)[1]])

    @router.get("/api/positions")
    def positions() -> Response:
        """The log's positions, times and ops, newest first."""
        return answer(lambda: views.positions(store))

    @router.get("/api/contexts")
    def contexts() -> Response:
        """Every context with the first and last position that wrote it."""
        return answer(lambda: views.context_spans(store))

    @router.get("/api/search")
    def search(q: str = "", filter_query: str = "", kind: str = "artifact", as_of: int | None = None) -> Response:
        """Nodes matching a text (name, uri, type, id) or a filter_query over one kind."""
        return answer(lambda: views.search(store, text=q, filter_query=filter_query, kind=kind, as_of=as_of))

    @router.get("/api/node/{node_id}")
    def node(node_id: int, as_of: int | None = None) -> Response:
        """A node's fields, properties, events, contexts and versions."""
        return answer(lambda: views.node_page(store, node_id, as_of))

    @router.get("/api/lineage/{node_id}")
    def lineage(node_id: int, direction: str = "up", hops: int = 20, as_of: int | None = None) -> Response:
        """The lineage graph around a node as of a position."""
        return answer(lambda: graph.lineage(store, node_id, direction=direction, hops=hops, as_of=as_of))

    @router.get("/api/diff")
    def diff(
        position_from: int = Query(alias="from"), position_to: int = Query(alias="to"),
        node: int | None = None, direction: str = "both", hops: int = 20,
    ) -> Response:
        """What changed between two positions, in the whole store or in a node's lineage."""
        return answer(lambda: graph.diff(store, position_from, position_to, node_id=node, direction=direction,
                                         hops=hops))

    return router


def create_app(store: Reader) -> FastAPI:
    """A FastAPI app serving the explorer over ``store`` (``/`` redirects to ``/ui/``)."""
    app = FastAPI(title="mlmd-log lineage explorer", docs_url=None, redoc_url=None)
    app.include_router(ui_router(store))

    @app.exception_handler(RequestValidationError)
    def bad_request(request: Request, err: RequestValidationError) -> Response:
        """A parameter of the wrong type (``hops=abc``) answers as MLMD's InvalidArgumentError does."""
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        return JSONResponse({"error": "InvalidArgumentError", "message": problems}, status_code=400)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/ui/")

    return app


@contextmanager
def running(store: Reader, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the explorer over ``store`` in a background thread; yields its URL and stops it on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="mlmd-log-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://{host}:{bound}/ui/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def serve_ui(db: str, *, host: str = "127.0.0.1", port: int = 0, open_browser: bool = True,
             emit: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> int:
    """``mlmd-log ui``: serve the explorer over the DuckDB file ``db`` until interrupted (or ``stop`` is set)."""
    from mlmd_log.store import open_reader

    store = open_reader(db)
    emit = emit or (lambda text: print(text, flush=True))
    stop = stop or threading.Event()
    with running(store, host, port) as url:
        emit(f"mlmd-log ui: serving {db} at {url} (Ctrl-C stops)")
        if open_browser:
            webbrowser.open(url)
        try:
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
    return 0
