"""Who is calling: bearer tokens from a small named set, each with a read or write scope.

Tokens come from :attr:`~mlmd_log.settings.Settings.server_tokens` (``MLMD_LOG_SERVER_TOKENS``). A request
presents one as ``Authorization: Bearer <secret>``; it is compared in constant time with every configured
secret, and the token's *name* becomes the request's principal: the identity stamped on every op the
request appends (:mod:`mlmd_log.producer.acting`). Nothing in a request can name another principal. With
no tokens configured the API asks for none (it binds to loopback by default) and ops carry the server's
own identity.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mlmd_log.errors import PermissionDeniedError, UnauthenticatedError
from mlmd_log.settings import ServerToken

Scope = Literal["read", "write"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: ``name`` (None when the server asks for no token) and its scope."""

    name: str | None
    scope: Scope


class Authenticator:
    """Maps a presented bearer secret to the principal it names."""

    def __init__(self, tokens: Mapping[str, ServerToken]) -> None:
        self._tokens = [(name, t.secret.get_secret_value().encode(), t.scope) for name, t in tokens.items()]
        if any(not secret.strip() for _, secret, _ in self._tokens):
            raise UnauthenticatedError("a server token's secret must not be empty")

    @property
    def required(self) -> bool:
        return bool(self._tokens)

    def principal(self, secret: str | None) -> Principal:
        """The principal ``secret`` authenticates; UnauthenticatedError when it matches no token."""
        if not self._tokens:
            return Principal(None, "write")
        if not secret:
            raise UnauthenticatedError("this server needs a bearer token: send 'Authorization: Bearer <token>'")
        given = secret.encode()
        found: Principal | None = None
        for name, expected, scope in self._tokens:  # every secret is compared: timing does not tell which
            if hmac.compare_digest(given, expected):
                found = Principal(name, scope)
        if found is None:
            raise UnauthenticatedError("the bearer token is not one this server accepts")
        return found


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
    if principal.scope != "write":
        raise PermissionDeniedError(f"token {principal.name!r} has read scope; writing needs a write-scope token")
    return principal
