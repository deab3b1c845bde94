"""The HTTP server's process-level guarantees: out of memory is a resource error, TLS with client
certificates, and `python -m mlmd_log.grpc --http-port` serving both APIs on one store."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_grpc_principal import _pki

from mlmd_log import connect
from mlmd_log.http import HttpTls, serve_http
from mlmd_log.settings import Settings


def test_a_query_past_the_memory_limit_is_a_resource_error_not_invalid_sql(tmp_path: Path) -> None:
    settings = Settings(log=f"duckdb:///{tmp_path / 'm.duckdb'}", db_memory_mb=32)
    store = connect(settings.log, settings=settings)
    server = serve_http(store, settings=settings)
    try:
        big = "SELECT max(len(l)) FROM (SELECT list(i::VARCHAR || repeat('x', 100)) AS l FROM range(3000000) t(i))"
        response = httpx.post(f"{server.url}/api/v1/sql", json={"sql": big}, timeout=120)
        assert response.status_code == 429, response.text
        assert response.json()["error"] == "ResourceExhaustedError"
        assert "memory" in response.json()["message"]
    finally:
        server.stop()
        store.close()


def test_tls_with_required_client_certificates(tmp_path: Path) -> None:
    pki = _pki(tmp_path)
    settings = Settings(log=f"duckdb:///{tmp_path / 't.duckdb'}")
    store = connect(settings.log, settings=settings)
    server = serve_http(store, settings=settings, tls=HttpTls(str(pki["server_key"]), str(pki["server"]), str(pki["ca"])))
    try:
        url = f"https://localhost:{server.port}/api/v1/log/position"
        context = ssl.create_default_context(cafile=str(pki["ca"]))
        context.load_cert_chain(str(pki["client"]), str(pki["client_key"]))
        with_cert = httpx.get(url, verify=context, timeout=10)
        assert with_cert.status_code == 200 and with_cert.json()["position"] == -1
        with pytest.raises(httpx.HTTPError):  # no client certificate: the handshake is refused
            httpx.get(url, verify=ssl.create_default_context(cafile=str(pki["ca"])), timeout=10)
        with pytest.raises(httpx.HTTPError):  # plaintext to a TLS port
            httpx.get(f"http://localhost:{server.port}/api/v1/log/position", timeout=10)
    finally:
        server.stop()
        store.close()


def test_the_server_process_serves_grpc_and_http_on_one_store(tmp_path: Path) -> None:
    grpc_port, http_port = tmp_path / "grpc.port", tmp_path / "http.port"
    command = [sys.executable, "-m", "mlmd_log.grpc", "--log", f"duckdb:///{tmp_path / 's.duckdb'}",
               "--port", "0", "--port-file", str(grpc_port), "--http-port", "0", "--http-port-file", str(http_port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (grpc_port.exists() and http_port.exists()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        import grpc

        from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
        from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as svc
        from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2_grpc as svc_grpc

        with grpc.insecure_channel(f"127.0.0.1:{int(grpc_port.read_text())}") as channel:
            stub: Any = svc_grpc.MetadataStoreServiceStub(channel)
            stub.PutArtifactType(svc.PutArtifactTypeRequest(artifact_type=mlmd.ArtifactType(name="Written")), timeout=30)
        types = httpx.get(f"http://127.0.0.1:{int(http_port.read_text())}/api/v1/types/artifact", timeout=30).json()
        assert [t["name"] for t in types["items"]] == ["Written"]  # written over gRPC, read over HTTP
        base = f"http://127.0.0.1:{int(http_port.read_text())}/ui"
        assert httpx.get(f"{base}/api/positions", timeout=30).json()["last"] == 0  # the explorer sees the write
        page = httpx.get(f"{base}/", timeout=30, follow_redirects=True)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    finally:
        process.terminate()
        process.wait(60)
    assert process.returncode == 0
