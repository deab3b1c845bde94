"""The log itself: the position the projection has reached (or the one a time maps to), and what changed
between two positions (the ops, who appended them, and every entity version they wrote)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.http import auth, models
from mlmd_log.http.params import (
    INT64_MAX,
    INT64_MIN,
    AsOfParam,
    answer,
    documented,
    parse_as_of,
    reader,
)
from mlmd_log.http.routes_nodes import change_json
from mlmd_log.query.asof import resolve_as_of
from mlmd_log.query.diff import EntityChange
from mlmd_log.query.reader import Reader

router = APIRouter(prefix="/api/v1/log", tags=["log"], dependencies=[Depends(auth.reader)])

#: Most positions one changes request may span (page through longer ranges).
MAX_CHANGE_SPAN = 10_000


@router.get("/position", responses=documented(models.Position), summary="The log position and its time")
def position(r: Annotated[Reader, Depends(reader)], as_of: AsOfParam = None) -> JSONResponse:
    """The last position applied (no ``asOf``), or the position ``asOf`` names (a time: the last at or before it)."""
    at = parse_as_of(as_of)
    found = resolve_as_of(r.con, at)
    pos = r.log_position() if found is None else found
    time_ms = None
    if pos >= 0:
        ops = r.get_changes(pos - 1, pos)
        time_ms = ops[0].time_ms if ops else None
    return answer({
        "position": pos, "timeMs": time_ms,
        "time": datetime.fromtimestamp(time_ms / 1000, UTC).isoformat() if time_ms is not None else None,
    })


def _entity_json(c: EntityChange) -> dict[str, Any]:
    return {
        "kind": c.kind, "ids": list(c.ids), "action": c.action, "position": c.position, "previous": c.previous,
        "fields": [{"field": f.field, "old": _plain(f.old), "new": _plain(f.new)} for f in c.fields],
        "change": change_json(c.change),
    }


def _plain(value: Any) -> Any:
    """A stored value as JSON can carry it (bytes as text, other objects by their str)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@router.get("/changes", responses=documented(models.Changes), summary="What changed between two positions")
def changes(
    r: Annotated[Reader, Depends(reader)],
    after: Annotated[int, Query(ge=-1, le=INT64_MAX, description="exclusive")] = -1,
    up_to: Annotated[int | None, Query(alias="upTo", ge=-1, le=INT64_MAX, description="inclusive; default: the latest")] = None,
    as_of: AsOfParam = None,
    kind: Annotated[str | None, Query(max_length=32, description="only this entity kind")] = None,
    entity_id: Annotated[int | None, Query(alias="entityId", ge=INT64_MIN, le=INT64_MAX, description="with kind: only this entity")] = None,
) -> JSONResponse:
    """Ops in (after, upTo] and the entity versions they wrote; ``asOf`` sets ``upTo`` when it is absent."""
    end = up_to
    if end is None:
        resolved = resolve_as_of(r.con, parse_as_of(as_of))
        end = r.log_position() if resolved is None else resolved
    if end < after:
        raise InvalidArgumentError(f"upTo ({end}) is before after ({after})")
    if end - after > MAX_CHANGE_SPAN:
        raise InvalidArgumentError(
            f"at most {MAX_CHANGE_SPAN} positions per request; ask for (after, after + {MAX_CHANGE_SPAN}] and go on"
        )
    if entity_id is not None and kind is None:
        raise InvalidArgumentError("entityId needs kind")
    ops = r.get_changes(after, end)
    entities = r.get_entity_changes(after, end, kind=kind, entity_id=entity_id)
    return answer({
        "after": after, "upTo": end, "ops": [change_json(c) for c in ops],
        "entities": [_entity_json(c) for c in entities],
    })
