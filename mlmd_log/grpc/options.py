"""The server's command-line options, shared by ``python -m mlmd_log.grpc`` and ``mlmd-log serve``.

Kept apart from the server so that building the CLI's parser does not import gRPC.
"""

from __future__ import annotations

import argparse
from typing import Final

#: Default largest request or response: MLMD ops are bounded by the producer's ``max_op_bytes`` (8 MiB) anyway.
DEFAULT_MAX_MESSAGE_BYTES: Final = 32 * 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options, for ``python -m mlmd_log.grpc`` and ``mlmd-log serve`` alike."""
    parser.add_argument("--log", help="log URL: duckdb:///PATH or kafka://HOST:PORT/TOPIC (env MLMD_LOG_LOG)")
    parser.add_argument("--db", help="DuckDB projection file (env MLMD_LOG_DB; embedded logs use their own file)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one, printed on stdout)")
    parser.add_argument("--max-workers", type=int, default=32, help="concurrent requests (a waiting write holds one)")
    parser.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES,
                        help="largest request or answer")
    parser.add_argument("--tls-key", help="server private key (PEM); with --tls-cert enables TLS")
    parser.add_argument("--tls-cert", help="server certificate chain (PEM)")
    parser.add_argument("--tls-client-ca", help="require client certificates signed by this CA (PEM)")
    parser.add_argument("--port-file", help="write the bound port here once serving (for scripts)")
    parser.add_argument("--http-port", type=int, default=None,
                        help="also serve the HTTP/JSON API and OpenLineage ingestion on this port (0: a free one)")
    parser.add_argument("--http-port-file", help="write the bound HTTP port here once serving")
