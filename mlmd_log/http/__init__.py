"""The HTTP/JSON API (FastAPI, OpenAPI 3.1) and OpenLineage ingestion over one store (docs/http.md)."""

from mlmd_log.http.app import HttpServer, HttpTls, create_app, serve_http

__all__ = ["HttpServer", "HttpTls", "create_app", "serve_http"]
