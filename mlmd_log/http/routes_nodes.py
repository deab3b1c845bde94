"""Artifacts, executions and contexts: by id, by external id, by type, by context, by ``filterQuery``, paged.

``GET /api/v1/{artifacts|executions|contexts}`` lists one page (``pageSize`` at most 100, as MLMD) and a
``nextPageToken`` while more remain; the token pins the log position of the first page, so paging neither
repeats nor skips nodes written meanwhile (keyset paging on the ordering column and id). ``ids`` or
``externalIds`` fetch those nodes instead. ``GET .../{id}`` is one node; ``GET .../{id}/history`` every
version of it with the op and principal that wrote it. Every read takes ``asOf``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from mlmd_log.errors import InvalidArgumentError, NotFoundError
from mlmd_log.http import auth, models
from mlmd_log.http.params import (
    INT64_MAX,
    INT64_MIN,
    AsOfParam,
    Int64,
    answer,
    documented,
    message_json,
    messages_json,
    parse_as_of,
    reader,
)
from mlmd_log.query.asof import resolve_as_of
from mlmd_log.query.history import Change
from mlmd_log.query.options import ListOptions, OrderByField
from mlmd_log.query.reader import Reader

#: Largest page, as MLMD caps ``max_result_size``.
MAX_PAGE_SIZE = 100
_MAX_IDS = 1000


class OrderBy(StrEnum):
    id = "id"
    createTime = "createTime"
    updateTime = "updateTime"


_ORDER = {OrderBy.id: OrderByField.ID, OrderBy.createTime: OrderByField.CREATE_TIME,
          OrderBy.updateTime: OrderByField.UPDATE_TIME}


def change_json(change: Change) -> dict[str, Any]:
    return {
        "position": change.position, "opId": change.op_id, "payload": change.payload, "outcome": change.outcome,
        "team": change.team, "service": change.service, "user": change.user, "host": change.host,
        "timeMs": change.time_ms,
    }


def node_router(kind: str) -> APIRouter:
    """The routes of one node kind."""
    plural = f"{kind}s"
    router = APIRouter(prefix=f"/api/v1/{plural}", tags=[plural], dependencies=[Depends(auth.reader)])
    page_model = models.node_page(kind)

    @router.get("", responses=documented(page_model), summary=f"List {plural}")
    def list_nodes(
        r: Annotated[Reader, Depends(reader)],
        as_of: AsOfParam = None,
        ids: Annotated[list[Int64] | None, Query(max_length=_MAX_IDS, description="these ids (missing ones are left out)")] = None,
        external_ids: Annotated[list[str] | None, Query(alias="externalIds", max_length=_MAX_IDS)] = None,
        type_name: Annotated[str | None, Query(alias="typeName", max_length=1024)] = None,
        type_version: Annotated[str | None, Query(alias="typeVersion", max_length=1024)] = None,
        context_id: Annotated[int | None, Query(alias="contextId", ge=INT64_MIN, le=INT64_MAX, description="artifacts or executions of a context")] = None,
        filter_query: Annotated[str | None, Query(alias="filterQuery", max_length=10_000,
                                                  description="MLMD's filter_query")] = None,
        order_by: Annotated[OrderBy, Query(alias="orderBy")] = OrderBy.id,
        asc: bool = True,
        page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 20,
        page_token: Annotated[str | None, Query(alias="pageToken", max_length=4096)] = None,
    ) -> JSONResponse:
        at = parse_as_of(as_of)
        if ids is not None or external_ids is not None:
            if ids is not None and external_ids is not None:
                raise InvalidArgumentError("give ids or externalIds, not both")
            found = (getattr(r, f"get_{plural}_by_id")(ids, as_of=at) if ids is not None
                     else getattr(r, f"get_{plural}_by_external_ids")(external_ids, as_of=at))
            return answer({"items": messages_json(found)})
        options = ListOptions(limit=page_size, order_by=_ORDER[order_by], is_asc=asc, filter_query=filter_query or None)
        if context_id is not None:
            if kind == "context":
                raise InvalidArgumentError("contextId lists artifacts or executions; for contexts use /parents, /children")
            nodes, token = r.get_nodes_by_context_page(kind, context_id, options, page_token, as_of=at)
        elif type_name is not None:
            nodes, token = r.get_nodes_by_type_page(kind, type_name, type_version, options, page_token, as_of=at)
        else:
            nodes, token = r.get_nodes_page(kind, options, page_token, as_of=at)
        body: dict[str, Any] = {"items": messages_json(nodes)}
        if token:
            body["nextPageToken"] = token
        return answer(body)

    @router.get("/{node_id}", responses=documented(models.NODE_MODELS[kind]), summary=f"One {kind}")
    def get_node(
        r: Annotated[Reader, Depends(reader)], node_id: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)], as_of: AsOfParam = None
    ) -> JSONResponse:
        found = getattr(r, f"get_{plural}_by_id")([node_id], as_of=parse_as_of(as_of))
        if not found:
            raise NotFoundError(f"No {kind} with id {node_id}")
        return answer(message_json(found[0]))

    @router.get("/{node_id}/history", responses=documented(models.history_model(kind)),
                summary=f"Every version of a {kind}")
    def history(
        r: Annotated[Reader, Depends(reader)], node_id: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)], as_of: AsOfParam = None
    ) -> JSONResponse:
        at = parse_as_of(as_of)
        position = resolve_as_of(r.con, at)
        versions = [v for v in r.get_history(kind, node_id) if position is None or v.valid_from <= position]
        if not versions:
            raise NotFoundError(f"No {kind} with id {node_id} as of position {position}")
        return answer({
            "kind": kind, "id": node_id,
            "versions": [
                {"node": message_json(v.node), "validFrom": v.valid_from,
                 "validTo": v.valid_to if position is None or v.valid_to is None or v.valid_to <= position else None,
                 "change": change_json(v.change)}
                for v in versions
            ],
        })

    if kind == "context":
        for relation in ("parents", "children"):
            _context_relation(router, relation)
    return router


def _context_relation(router: APIRouter, relation: str) -> None:
    method = f"get_{'parent' if relation == 'parents' else 'children'}_contexts_by_context"

    @router.get(f"/{{node_id}}/{relation}", responses=documented(models.node_page("context")),
                summary=f"The {relation} of a context", name=f"context_{relation}")
    def related(
        r: Annotated[Reader, Depends(reader)], node_id: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)], as_of: AsOfParam = None
    ) -> JSONResponse:
        return answer({"items": messages_json(getattr(r, method)(node_id, as_of=parse_as_of(as_of)))})
