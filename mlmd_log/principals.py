"""Who is calling a server: named bearer tokens with a read or write scope, or a client certificate.

Both servers (gRPC and HTTP) authenticate the same way. Tokens come from
:attr:`~mlmd_log.settings.Settings.server_tokens` (``MLMD_LOG_SERVER_TOKENS``): a presented secret is compared
in constant time with every configured one, and the token's *name* is the principal. A gRPC client that
presents a TLS client certificate (the server requiring one with ``--tls-client-ca``) and no token is the
certificate's subject. The principal is stamped on every op the request appends
(:mod:`mlmd_log.producer.acting`); nothing in a request can name another.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mlmd_log.errors import PermissionDeniedError, UnauthenticatedError
from mlmd_log.settings import ServerToken

Scope = Literal["read", "write"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: ``name`` (None: the server asks for no token, ops keep its identity), scope."""

    name: str | None
    scope: Scope

    def require_write(self) -> None:
        if self.scope != "write":
            raise PermissionDeniedError(f"token {self.name!r} has read scope; writing needs a write-scope token")


class Authenticator:
    """Maps a presented bearer secret (or a certificate subject) to the principal it names."""

    def __init__(self, tokens: Mapping[str, ServerToken]) -> None:
        self._tokens = [(name, t.secret.get_secret_value().encode(), t.scope) for name, t in tokens.items()]
        if any(not secret.strip() for _, secret, _ in self._tokens):
            raise UnauthenticatedError("a server token's secret must not be empty")

    @property
    def required(self) -> bool:
        return bool(self._tokens)

    def principal(self, secret: str | None, certificate_subject: str | None = None) -> Principal:
        """The principal ``secret`` (else the certificate) authenticates; UnauthenticatedError when none does.

        With no named tokens configured a presented secret is not looked at here (the gRPC server's single
        ``MLMD_LOG_SERVER_TOKEN`` is checked before; its calls keep the server's identity).
        """
        if secret and self._tokens:
            given = secret.encode()
            found: Principal | None = None
            for name, expected, scope in self._tokens:  # every secret is compared: timing does not tell which
                if hmac.compare_digest(given, expected):
                    found = Principal(name, scope)
            if found is None:
                raise UnauthenticatedError("the bearer token is not one this server accepts")
            return found
        if certificate_subject:
            return Principal(certificate_subject, "write")
        if self._tokens:
            raise UnauthenticatedError("this server needs a bearer token: send 'Authorization: Bearer <token>'")
        return Principal(None, "write")
