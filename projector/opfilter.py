"""An in-memory Bloom filter over the archive's op ids: the duplicate-op check without a scan per batch.

A repeated ``op_id`` has no effect (docs/design.md, invariant 3), so every batch asks which
of its op ids the archive already holds. Asked of DuckDB, that is a scan of the
archive's ``op_id`` column (a batch's ids form no range that zone maps could
prune, and an index probe costs ~20 us per id), so the check grew with the
log: ~37 ms per 5,000-op batch at 1M archived ops, ten times that at 10M.
This filter rules out nearly every new id in memory; only the ids it cannot
rule out (true repeats and ~0.2% false positives) are looked up in DuckDB.

It is a superset of the archive's op ids: built from the archive at first use,
and each batch's ids are added before the batch is stored. Ids that never
reached the archive (a batch that failed) cost a lookup, nothing else. It
grows in segments of :data:`SEGMENT_IDS` ids (2 MiB each) and is never
rebuilt; an id is a candidate when any segment has all of its bits set.

Both sides hash with MD5 (the first 8 bytes of the digest, little-endian),
which DuckDB's ``md5_number_upper`` and :mod:`hashlib` compute alike, so the
ids already stored are hashed by one column scan inside DuckDB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import duckdb
import numpy as np
import numpy.typing as npt

#: Op ids per segment; bits per id and probes per id (16 and 4: ~0.24% false positives in a full segment).
SEGMENT_IDS: Final = 1 << 20
_BITS_PER_ID: Final = 16
_PROBES: Final = 4

Hashes = npt.NDArray[np.uint64]


def op_hashes(op_ids: Sequence[str]) -> Hashes:
    """The 64-bit hash of each op id (what ``md5_number_upper`` gives for it in DuckDB)."""
    md5 = hashlib.md5
    digests = b"".join([md5(op_id.encode()).digest() for op_id in op_ids])
    return np.frombuffer(digests, dtype="<u8")[::2].astype(np.uint64)


def _positions(hashes: Hashes, mask: np.uint64) -> Hashes:
    """Bit positions, one row per probe: double hashing from the two 32-bit halves of each hash."""
    low = hashes & np.uint64(0xFFFFFFFF)
    step = (hashes >> np.uint64(32)) | np.uint64(1)
    probes = np.arange(_PROBES, dtype=np.uint64)[:, None]
    positions: Hashes = (low[None, :] + probes * step[None, :]) & mask
    return positions


class OpIdFilter:
    """The op ids stored so far, as a Bloom filter: :meth:`may_contain` is False only for ids never added."""

    def __init__(self, segment_ids: int = SEGMENT_IDS) -> None:
        if segment_ids < 1 or segment_ids & (segment_ids - 1):
            raise ValueError(f"segment_ids must be a power of two, not {segment_ids}")
        self._segment_ids = segment_ids
        self._mask = np.uint64(segment_ids * _BITS_PER_ID - 1)
        self._segments: list[npt.NDArray[np.uint8]] = []
        self._room = 0  # ids the last segment takes before a new one starts

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> OpIdFilter:
        """A filter holding every op id in the archive behind ``con`` (one scan, hashed inside DuckDB)."""
        found = cls()
        column = con.execute(
            "SELECT md5_number_upper(op_id) AS h FROM op_archive WHERE op_id IS NOT NULL"
        ).fetchnumpy()["h"]
        found.add(np.asarray(column, dtype=np.uint64))
        return found

    def add(self, hashes: Hashes) -> None:
        """Add the ids whose :func:`op_hashes` are ``hashes``."""
        start = 0
        while start < len(hashes):
            if self._room == 0:
                self._segments.append(np.zeros(self._segment_ids * _BITS_PER_ID // 8, dtype=np.uint8))
                self._room = self._segment_ids
            part = hashes[start:start + self._room]
            positions = _positions(part, self._mask).ravel()
            bits = np.left_shift(1, positions & np.uint64(7)).astype(np.uint8)
            np.bitwise_or.at(self._segments[-1], positions >> np.uint64(3), bits)
            self._room -= len(part)
            start += len(part)

    def may_contain(self, hashes: Hashes) -> npt.NDArray[np.bool_]:
        """Per hash: True when its id may have been added (always True for an id that was)."""
        out = np.zeros(len(hashes), dtype=np.bool_)
        if not len(hashes):
            return out
        positions = _positions(hashes, self._mask)
        byte, bit = positions >> np.uint64(3), positions & np.uint64(7)
        for segment in self._segments:
            out |= ((segment[byte] >> bit) & 1).astype(np.bool_).all(axis=0)
        return out

    @property
    def nbytes(self) -> int:
        """Memory held by the bits (2 MiB per :data:`SEGMENT_IDS` ids)."""
        return sum(segment.nbytes for segment in self._segments)
