"""The gRPC server's principals: each call runs as the token or client certificate that authenticated it.

An interceptor wraps every method handler: before the handler runs it authenticates the call
(:class:`~mlmd_log.principals.Authenticator`: ``authorization: Bearer <secret>`` metadata naming one of
``MLMD_LOG_SERVER_TOKENS``, else the TLS client certificate's subject, e.g. ``CN=trainer,O=ml-team``), refuses
write rpcs (``Put*``) to a read-scope token, and runs the handler inside
:func:`~mlmd_log.producer.acting.acting_as`, so every op the call appends names that principal. MLMD's own
client cannot send a token; it authenticates with a client certificate.
"""

from __future__ import annotations

from typing import Any

import grpc

from mlmd_log.errors import MlmdLogError
from mlmd_log.grpc.common import status_code
from mlmd_log.principals import Authenticator, Principal
from mlmd_log.producer.acting import acting_as


def certificate_subject(context: Any) -> str | None:
    """The verified client certificate's subject (``x509_subject``, e.g. ``CN=trainer,O=ml-team``), or None without one."""
    auth = context.auth_context() or {}
    found = auth.get("x509_subject") or auth.get("x509_common_name")
    if not found:
        return None
    value = found[0]
    return value.decode() if isinstance(value, bytes) else str(value)


class PrincipalInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Authenticates each call and stamps its principal on the ops it appends."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        secret = None
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "authorization":
                text = value.decode() if isinstance(value, bytes) else value
                secret = text[7:] if text.startswith("Bearer ") else text
        inner = handler.unary_unary
        authenticator = self._authenticator

        def behaviour(request: Any, context: Any) -> Any:
            try:
                principal: Principal = authenticator.principal(secret, certificate_subject(context))
                if method.startswith("Put"):
                    principal.require_write()
            except MlmdLogError as err:
                context.abort(status_code(err), err.message or str(err))
                raise
            with acting_as(principal.name):
                return inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            behaviour, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
