"""Errors as the HTTP API answers them: JSON with MLMD's error class, its code and a message.

Every failure has the same body, ``{"error": "NotFoundError", "code": 5, "message": "..."}``: ``error`` is
the class of :mod:`mlmd_log.errors` (MLMD's names), ``code`` its absl/gRPC code. The HTTP status follows the
gRPC-to-HTTP mapping of Google's API design guide (INVALID_ARGUMENT 400, NOT_FOUND 404, ...). Request bodies
and parameters that do not fit the API's models are InvalidArgumentError (400) with the reason. Anything
unexpected is a bug: logged with its traceback and answered 500 with an incident id only.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlmd_log import errors as e

log = logging.getLogger("mlmd_log.http")

#: HTTP status for each absl/gRPC code (Google API design guide, "Handling errors").
HTTP_STATUS: Final[dict[int, int]] = {
    e.CANCELLED: 499, e.UNKNOWN: 500, e.INVALID_ARGUMENT: 400, e.DEADLINE_EXCEEDED: 504, e.NOT_FOUND: 404,
    e.ALREADY_EXISTS: 409, e.PERMISSION_DENIED: 403, e.RESOURCE_EXHAUSTED: 429, e.FAILED_PRECONDITION: 400,
    e.ABORTED: 409, e.OUT_OF_RANGE: 400, e.UNIMPLEMENTED: 501, e.INTERNAL: 500, e.UNAVAILABLE: 503,
    e.DATA_LOSS: 500, e.UNAUTHENTICATED: 401,
}


def body(error_class: str, code: int, message: str) -> dict[str, Any]:
    return {"error": error_class, "code": code, "message": message}


def error_response(err: e.MlmdLogError) -> JSONResponse:
    """The JSON answer for an mlmd-log error."""
    status = HTTP_STATUS.get(err.error_code, 500)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body(_mlmd_name(err), err.error_code, err.message or str(err)), status, headers=headers)


def _mlmd_name(err: e.MlmdLogError) -> str:
    """MLMD's class name for ``err``: ours (ConfigError, DatabaseLockedError, ...) report the MLMD class of
    their code, which is what MLMD's clients know."""
    return type(e.make_exception("", err.error_code)).__name__


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for item in err.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the JSON error body."""

    @app.exception_handler(e.MlmdLogError)
    async def mlmd_error(request: Request, err: e.MlmdLogError) -> JSONResponse:
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        return error_response(e.InvalidArgumentError(_validation_message(err)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: e.NOT_FOUND, 405: e.UNIMPLEMENTED, 401: e.UNAUTHENTICATED, 403: e.PERMISSION_DENIED}.get(
            err.status_code, e.INVALID_ARGUMENT if err.status_code < 500 else e.INTERNAL
        )
        name = type(e.make_exception("", code)).__name__
        return JSONResponse(body(name, code, str(err.detail)), err.status_code, headers=err.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.error("%s %s failed unexpectedly (incident %s)", request.method, request.url.path, incident,
                  exc_info=err)
        return JSONResponse(
            body("InternalError", e.INTERNAL, f"internal error (incident {incident}); see the server log"), 500
        )
