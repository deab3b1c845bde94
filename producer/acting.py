"""Who an op is appended for, when a server appends it on behalf of an authenticated client.

A server shares one store (one producer) among all its clients, so the producer's own identity would
name the server, not the writer. :func:`acting_as` sets, for the calls made inside it (this thread or
task only: a :class:`~contextvars.ContextVar`), the principal stamped as the op's ``producer.user``, and
optionally the op id of the next op (a deterministic id makes a retried request a duplicate the store
recognizes). The client never supplies these: the server derives them from what it authenticated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Acting:
    """The principal the ops are appended for, and an op id for the next op (used once)."""

    principal: str | None
    op_ids: list[str] = field(default_factory=list)

    def next_op_id(self) -> str | None:
        return self.op_ids.pop(0) if self.op_ids else None


ACTING: ContextVar[Acting | None] = ContextVar("mlmd_log_acting", default=None)


@contextmanager
def acting_as(principal: str | None, op_id: str | None = None) -> Iterator[Acting]:
    """Stamp ``principal`` (None: keep the producer's identity) on every op appended inside the block;
    ``op_id`` names the first of them."""
    acting = Acting(principal, [op_id] if op_id else [])
    token = ACTING.set(acting)
    try:
        yield acting
    finally:
        ACTING.reset(token)
