"""Id rules shared by producers and the projector (ADR 0001).

Nodes take ids from leased blocks numbered by log position; the projector numbers
types in log order. Pure functions, no I/O: both sides compute the same answers,
and so does every replay.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

TypeKind = Literal["artifact", "execution", "context"]
TYPE_KINDS: Final[tuple[TypeKind, ...]] = ("artifact", "execution", "context")

#: Ids per lease block. Fixed for the life of a log: the lease at log position
#: P owns ids P * ID_BLOCK_SIZE + 1 .. (P + 1) * ID_BLOCK_SIZE.
ID_BLOCK_SIZE: Final = 1_000_000

#: First id a deterministic type id can take; 1..9 are MLMD's simple types.
FIRST_TYPE_ID: Final = 10

#: MLMD's preloaded "simple types": hidden from get_*_types(), found by name or id.
SIMPLE_TYPES: Final[tuple[tuple[int, TypeKind, str, int], ...]] = (
    # (id, kind, name, base_type enum value)
    (1, "artifact", "mlmd.Dataset", 1),
    (2, "artifact", "mlmd.Model", 2),
    (3, "artifact", "mlmd.Metrics", 3),
    (4, "artifact", "mlmd.Statistics", 4),
    (5, "execution", "mlmd.Train", 1),
    (6, "execution", "mlmd.Transform", 2),
    (7, "execution", "mlmd.Process", 3),
    (8, "execution", "mlmd.Evaluate", 4),
    (9, "execution", "mlmd.Deploy", 5),
)


def lease_block(position: int) -> tuple[int, int]:
    """First and last id owned by the lease op at ``position`` (inclusive)."""
    if position < 0:
        raise ValueError(f"a lease position is never negative: {position}")
    first = position * ID_BLOCK_SIZE + 1
    return first, first + ID_BLOCK_SIZE - 1


def type_id_for(kind: TypeKind, name: str, version: str | None) -> int:
    """The hashed id logs written before type ids followed log order gave (kind, name, version).

    Such logs carry these ids in their type ops and replay with them; the projector's counter for new
    types skips them (ADR 0001 §2).

    Simple types keep MLMD's ids 1..9; every other type maps to
    ``FIRST_TYPE_ID + BLAKE2b-52(kind, name, version)``. An unset version and an
    empty one are different types, as in MLMD.
    """
    for simple_id, simple_kind, simple_name, _ in SIMPLE_TYPES:
        if simple_kind == kind and simple_name == name and version is None:
            return simple_id
    key = "\x00".join((kind, name, "\x01" if version is None else "\x02" + version)).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return FIRST_TYPE_ID + (int.from_bytes(digest, "big") >> 12)
