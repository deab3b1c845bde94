"""The one error hierarchy of mlmd-log.

Every error a caller can see is a :class:`MlmdLogError`. The MLMD-compatible
classes mirror ``ml_metadata.errors``: same class names, same ``error_code``
(the absl / gRPC status code) and a ``message`` attribute, so code written for
MLMD catches the same things. Each class also says whether retrying the same
call can help (``retryable``): that is the split between dead-lettering an op
and retrying it.

This module imports nothing else from the project: every layer may use it.
Driver errors (kafka, duckdb, protobuf) are translated at one choke point per
driver with ``raise ... from err``.
"""

from __future__ import annotations

# absl / gRPC status codes, as MLMD reports them in ``error_code``.
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class MlmdLogError(Exception):
    """Root of every error raised by mlmd-log."""

    error_code: int = UNKNOWN
    #: True when the same call may succeed later without changing its input.
    retryable: bool = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class StatusError(MlmdLogError):
    """MLMD's base class name for status errors (``ml_metadata.errors.StatusError``)."""


class CancelledError(StatusError):
    error_code = CANCELLED


class UnknownError(StatusError):
    error_code = UNKNOWN


class InvalidArgumentError(StatusError):
    """The input can never be valid: fix the call."""

    error_code = INVALID_ARGUMENT


class DeadlineExceededError(StatusError):
    error_code = DEADLINE_EXCEEDED
    retryable = True


class NotFoundError(StatusError):
    error_code = NOT_FOUND


class AlreadyExistsError(StatusError):
    error_code = ALREADY_EXISTS


class PermissionDeniedError(StatusError):
    error_code = PERMISSION_DENIED


class ResourceExhaustedError(StatusError):
    error_code = RESOURCE_EXHAUSTED
    retryable = True


class FailedPreconditionError(StatusError):
    """The system is not in a state to run the call (e.g. the log went backwards)."""

    error_code = FAILED_PRECONDITION


class AbortedError(StatusError):
    error_code = ABORTED
    retryable = True


class OutOfRangeError(StatusError):
    error_code = OUT_OF_RANGE


class UnimplementedError(StatusError, NotImplementedError):
    """Not supported (MLMD's class), or not built yet: also a ``NotImplementedError``."""

    error_code = UNIMPLEMENTED


class InternalError(StatusError):
    error_code = INTERNAL


class UnavailableError(StatusError):
    """A dependency (broker, database file) cannot be reached now."""

    error_code = UNAVAILABLE
    retryable = True


class DataLossError(StatusError):
    error_code = DATA_LOSS


class UnauthenticatedError(StatusError):
    error_code = UNAUTHENTICATED


# --- mlmd-log specific errors, each under the MLMD class a caller would catch ---


class ConfigError(InvalidArgumentError):
    """A setting or URL is malformed."""


class OpTooLargeError(InvalidArgumentError):
    """An op's encoded size exceeds the configured limit."""


class BrokerUnavailableError(UnavailableError):
    """The Kafka bootstrap servers did not answer in time."""


class DeliveryError(UnavailableError):
    """Ops were not acknowledged by the broker; ``op_ids`` lists them."""

    def __init__(self, message: str, op_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.op_ids = list(op_ids or [])


class TopicConfigError(FailedPreconditionError):
    """The topic's settings would lose data (retention, partitions)."""


class LogRegressionError(FailedPreconditionError):
    """The log holds less than the projection has already applied.

    Raised when the checkpoint lies beyond the log's end or the op stored at the
    checkpoint differs from the one the log holds there (e.g. an in-memory
    broker restarted empty). Nothing is changed; an operator must decide.
    """


class DatabaseLockedError(UnavailableError):
    """Another process owns the DuckDB file (one writer per file)."""


_BY_CODE: dict[int, type[StatusError]] = {
    cls.error_code: cls
    for cls in (
        CancelledError,
        UnknownError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
        UnauthenticatedError,
    )
}

_BY_NAME: dict[str, type[StatusError]] = {cls.__name__: cls for cls in _BY_CODE.values()}


def make_exception(message: str, error_code: int) -> StatusError:
    """Build the MLMD error class for ``error_code`` (as ``ml_metadata.errors.make_exception``)."""
    return _BY_CODE.get(error_code, UnknownError)(message)


def error_class(name: str) -> type[StatusError]:
    """The MLMD error class called ``name`` (as stored in the rejections table)."""
    return _BY_NAME.get(name, UnknownError)
