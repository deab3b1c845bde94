"""What the read routes share: the ``asOf`` parameter, this thread's Reader, and protobuf JSON answers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import Field

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.query.asof import AsOf
from mlmd_log.query.reader import Reader

#: DuckDB's BIGINT range: every id or position the API takes is within it (a larger number is a 400).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]

AsOfParam = Annotated[
    str | None,
    Query(
        alias="asOf", max_length=64,
        description="read the store as of a log position (an integer, inclusive) or a time (ISO 8601 with a "
        "timezone, e.g. 2026-12-07T10:00:00Z); absent: the current state",
    ),
]


def parse_as_of(text: str | None) -> AsOf:
    """``asOf`` as the store takes it: an int position, an aware datetime, or None."""
    if text is None or text == "":
        return None
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        position = int(stripped)
        if not INT64_MIN <= position <= INT64_MAX:
            raise InvalidArgumentError(f"asOf position {text} is out of range")
        return position
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise InvalidArgumentError(
            f"asOf must be a log position (an integer) or an ISO 8601 time with a timezone, not {text!r}"
        ) from err
    if moment.tzinfo is None:
        raise InvalidArgumentError(f"asOf time {text!r} needs a timezone (e.g. a trailing Z for UTC)")
    return moment


def reader(request: Request) -> Reader:
    """This worker thread's Reader over the shared store."""
    found: Reader = request.app.state.shared.reader()
    return found


def message_json(message: Message) -> dict[str, Any]:
    """An MLMD message in protobuf's JSON mapping."""
    return json_format.MessageToDict(message)


def messages_json(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [json_format.MessageToDict(m) for m in messages]


def answer(content: Any, status: int = 200) -> JSONResponse:
    """A JSON answer, sent as built (already in the documented shape)."""
    return JSONResponse(content, status)


def documented(model: Any) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route answering ``model`` (its body is built by hand, so FastAPI does not re-validate)."""
    from mlmd_log.http.models import ErrorBody

    return {
        200: {"model": model},
        400: {"model": ErrorBody, "description": "invalid argument (MLMD's error class and a message)"},
        401: {"model": ErrorBody, "description": "no or unknown bearer token"},
        404: {"model": ErrorBody, "description": "not found"},
    }
