"""An HTTP API server over a fresh embedded store, with a write token and a read token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from mlmd_log import connect
from mlmd_log.http.app import HttpServer, serve_http
from mlmd_log.settings import ServerToken, Settings
from mlmd_log.store import MetadataStore

WRITE_SECRET = "write-secret-for-tests"
READ_SECRET = "read-secret-for-tests"


@dataclass
class Api:
    store: MetadataStore
    server: HttpServer
    writer: httpx.Client
    reader: httpx.Client
    anonymous: httpx.Client

    def position(self) -> int:
        return self.store.log_position()


def settings_for(db: Path, **extra: Any) -> Settings:
    tokens = {
        "airflow-prod": ServerToken(secret=SecretStr(WRITE_SECRET), scope="write"),
        "dashboard": ServerToken(secret=SecretStr(READ_SECRET), scope="read"),
    }
    return Settings(log=f"duckdb:///{db}", server_tokens=tokens, **extra)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = settings_for(tmp_path / "store.duckdb", server_sql_timeout_s=5.0, http_max_body_bytes=1_048_576)
    store = connect(settings.log, settings=settings)
    server = serve_http(store, settings=settings)
    clients = [
        httpx.Client(base_url=server.url, headers=h, timeout=30)
        for h in ({"Authorization": f"Bearer {WRITE_SECRET}"}, {"Authorization": f"Bearer {READ_SECRET}"}, {})
    ]
    try:
        yield Api(store, server, *clients)
    finally:
        for c in clients:
            c.close()
        server.stop()
        store.close()
