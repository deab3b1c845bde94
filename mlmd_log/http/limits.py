"""Request size limit: a body over the server's maximum is refused with 413 before it is read whole."""

from __future__ import annotations

import json
from typing import Any

from mlmd_log.errors import RESOURCE_EXHAUSTED

Scope = dict[str, Any]


class BodyLimit:
    """ASGI middleware: 413 (ResourceExhaustedError) when Content-Length, or the bytes received, exceed ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = -1
                if size > self.max_bytes or size < 0:
                    await self._refuse(send, size)
                    return
        received = 0
        refused = False

        async def limited() -> Any:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise _TooLargeError
            return message

        answered = False

        async def guarded_send(message: Any) -> None:
            # Once the body passed the limit, whatever the app answers (its body parser may turn the error into
            # its own 400) is replaced by the 413.
            nonlocal answered
            if refused:
                if not answered:
                    answered = True
                    await self._refuse(send, received)
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if not refused:
                raise
        if refused and not answered:
            await self._refuse(send, received)

    async def _refuse(self, send: Any, size: int) -> None:
        text = (f"the request body is over this server's limit of {self.max_bytes:,} bytes (MLMD_LOG_HTTP_MAX_BODY_BYTES)"
                if size >= 0 else "invalid Content-Length")
        status = 413 if size >= 0 else 400
        code = RESOURCE_EXHAUSTED if size >= 0 else 3
        body = json.dumps({"error": "ResourceExhaustedError" if size >= 0 else "InvalidArgumentError",
                           "code": code, "message": text}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLargeError(Exception):
    """Raised inside the app when the body being read passes the limit."""
