"""Who is calling the HTTP API: bearer tokens from a small named set (:mod:`mlmd_log.principals`).

Tokens come from :attr:`~mlmd_log.settings.Settings.server_tokens` (``MLMD_LOG_SERVER_TOKENS``). A request
presents one as ``Authorization: Bearer <secret>``; it is compared in constant time with every configured
secret, and the token's *name* becomes the request's principal: the identity stamped on every op the
request appends (:mod:`mlmd_log.producer.acting`). Nothing in a request can name another principal. With
no tokens configured the API asks for none (it binds to loopback by default) and ops carry the server's
own identity.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mlmd_log.principals import Authenticator, Principal

__all__ = ["Authenticator", "Principal", "reader", "writer"]

_bearer = HTTPBearer(auto_error=False, description="a token of MLMD_LOG_SERVER_TOKENS (read or write scope)")


def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.principal(credentials.credentials if credentials else None)


def reader(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    """Dependency of every read: any valid token."""
    return principal


def writer(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    """Dependency of every write: a token with write scope."""
    principal.require_write()
    return principal
