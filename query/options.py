"""MLMD's ``ListOptions`` and ``OrderByField`` (same names, same defaults as ``ml_metadata``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mlmd_log.errors import InvalidArgumentError


class OrderByField(enum.IntEnum):
    """Fields a list can be ordered by (values match ``ListOperationOptions.OrderByField.Field``)."""

    CREATE_TIME = 1
    UPDATE_TIME = 2
    ID = 3


@dataclass(frozen=True)
class ListOptions:
    """How to list nodes: at most ``limit`` rows, ordered by ``order_by``, optionally filtered."""

    limit: int | None = None
    order_by: OrderByField | None = None
    is_asc: bool = True
    filter_query: str | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise InvalidArgumentError(
                "Invalid list_options.limit value passed. list_options.limit is expected to be greater than 1"
            )
