"""Page tokens for keyset paging pinned to a log position.

A token carries the log position the first page was read at, the ordering,
the last row's sort key and a digest of the query it belongs to. Later pages
read as of that position and continue strictly after the key, so rows written
meanwhile can neither repeat nor shift a page; a token used with another query
is refused. Tokens are opaque URL-safe text.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass

from mlmd_log.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class PageToken:
    position: int
    order: int
    asc: bool
    last_value: int
    last_id: int
    query: str

    def encode(self) -> str:
        raw = json.dumps(asdict(self), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(text: str) -> PageToken:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            fields = json.loads(raw)
            token = PageToken(**fields)
            if not all(isinstance(getattr(token, f), int) for f in ("position", "order", "last_value", "last_id")):
                raise TypeError("non-integer field")
            return token
        except (ValueError, TypeError) as err:
            raise InvalidArgumentError(f"Invalid next_page_token: {text[:40]!r} is not a token this store issued") from err


def query_digest(*parts: object) -> str:
    """A short digest naming one query (kind, condition parameters, filter, ordering) for token checks."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()
