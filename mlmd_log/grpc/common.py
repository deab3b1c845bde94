"""What every handler of the gRPC service shares: error translation, size limits, MLMD's list options.

Errors: an :class:`~mlmd_log.errors.MlmdLogError` becomes the gRPC status with
the same code (``error_code`` is the absl/gRPC code, as in MLMD) and MLMD's
message, which is what MLMD's Python client turns back into
``ml_metadata.errors.*``. Anything else is a bug: it is logged here with its
traceback and answered ``INTERNAL`` with an incident id only, so no internals
reach the client.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any, Final, TypeVar

import grpc

from mlmd_log.errors import DeadlineExceededError, InvalidArgumentError, MlmdLogError
from mlmd_log.grpc.store import SharedStore
from mlmd_log.query.options import ListOptions, OrderByField
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

log = logging.getLogger("mlmd_log.grpc")

#: MLMD serves at most this many nodes per page (``GetDefaultMaxListOperationResultSize``); larger asks are capped.
MAX_PAGE_SIZE: Final = 100

_STATUS: Final[dict[int, Any]] = {code.value[0]: code for code in grpc.StatusCode}


def status_code(error: MlmdLogError) -> Any:
    """The ``grpc.StatusCode`` with the error's absl code (UNKNOWN for codes gRPC does not know)."""
    return _STATUS.get(error.error_code, grpc.StatusCode.UNKNOWN)


class HandlerBase:
    """State every handler needs: the shared store and the largest response it may send."""

    def __init__(self, shared: SharedStore, max_message_bytes: int) -> None:
        self.shared = shared
        self.max_message_bytes = max_message_bytes


S = TypeVar("S", bound=HandlerBase)
Q = TypeVar("Q")
R = TypeVar("R")
Handler = Callable[[S, Q, Any], R]


def _answer(self: HandlerBase, name: str, context: Any, call: Callable[[], R], write: bool) -> R:
    try:
        response = call()
    except MlmdLogError as err:
        message = err.message or str(err)
        if write and isinstance(err, DeadlineExceededError):
            message = (
                f"{message}. The write was appended to the log but its outcome is not known yet: read it back "
                "before retrying, or a retry may apply it twice"
            )
        context.abort(status_code(err), message)
        raise  # abort() raises; this keeps type checkers and readers sure of it
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("%s failed unexpectedly (incident %s)", name, incident)
        context.abort(grpc.StatusCode.INTERNAL, f"internal error in {name} (incident {incident}); see the server log")
        raise
    size = response.ByteSize() if hasattr(response, "ByteSize") else 0
    if size > self.max_message_bytes:
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"{name}: the response is {size:,} bytes, over the server's maximum message size of "
            f"{self.max_message_bytes:,} bytes; ask for fewer nodes (page with ListOperationOptions.max_result_size, "
            "fewer ids) or raise the server's max_message_bytes",
        )
    return response


def read_rpc(fn: Handler[S, Q, R]) -> Handler[S, Q, R]:
    """A read handler: MLMD status on error, RESOURCE_EXHAUSTED when the answer is over the size limit."""

    @functools.wraps(fn)
    def handler(self: S, request: Q, context: Any) -> R:
        return _answer(self, fn.__name__, context, lambda: fn(self, request, context), write=False)

    return handler


def write_rpc(fn: Handler[S, Q, R]) -> Handler[S, Q, R]:
    """A write handler: as :func:`read_rpc`; DEADLINE_EXCEEDED says the write may still be applied."""

    @functools.wraps(fn)
    def handler(self: S, request: Q, context: Any) -> R:
        return _answer(self, fn.__name__, context, lambda: fn(self, request, context), write=True)

    return handler


def list_options(request: Any) -> tuple[ListOptions | None, str | None]:
    """MLMD's ``ListOperationOptions`` of ``request`` as our ListOptions and page token.

    ``(None, None)`` when the request carries no options: MLMD then lists every
    node in one answer. With options, ``max_result_size`` (default 20) must be
    positive and is capped at 100 per page, as MLMD does.
    """
    if not request.HasField("options"):
        return None, None
    options: mlmd.ListOperationOptions = request.options
    if options.max_result_size <= 0:
        raise InvalidArgumentError(
            f"max_result_size field value is required to be greater than 0. Set value: {options.max_result_size}"
        )
    field = int(options.order_by_field.field)
    if field not in {int(f) for f in OrderByField}:
        name = mlmd.ListOperationOptions.OrderByField.Field.Name(field)
        raise InvalidArgumentError(f"Unsupported field: {name} specified in ListOperationOptions")
    return (
        ListOptions(
            limit=min(options.max_result_size, MAX_PAGE_SIZE),
            order_by=OrderByField(field),
            is_asc=options.order_by_field.is_asc,
            filter_query=options.filter_query or None,
        ),
        options.next_page_token or None,
    )


def type_version(request: Any) -> str | None:
    """The request's ``type_version`` when set (an empty version is a version, as in MLMD)."""
    return request.type_version if request.HasField("type_version") else None
