"""``POST /api/v1/lineage``: OpenLineage's HTTP transport, answered as Marquez answers it.

A valid RunEvent, DatasetEvent or JobEvent (spec 2-0-x) is applied (:mod:`.openlineage_ingest`) and
answered 201 with an empty body, also when it is a retry of an event already applied (nothing is appended
then); an invalid one is answered 400 with the reason. Writing needs a write-scope token when tokens are
configured; the token's name is stamped on the ops.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.http import auth
from mlmd_log.http.models import ErrorBody
from mlmd_log.http.openlineage_ingest import Ingestor

router = APIRouter(prefix="/api/v1", tags=["openlineage"])


@router.post(
    "/lineage", status_code=201, summary="Ingest one OpenLineage event",
    responses={201: {"description": "applied (or a retry of an event already applied)"},
               400: {"model": ErrorBody, "description": "not a valid OpenLineage event; the message says why"},
               401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 413: {"model": ErrorBody}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "description": "an OpenLineage RunEvent, DatasetEvent or JobEvent (spec 2-0-x)"}}}}},
)
async def lineage(request: Request, principal: Annotated[auth.Principal, Depends(auth.writer)]) -> Response:
    raw = await request.body()
    try:
        event: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidArgumentError(f"the body is not JSON: {err}") from err
    ingestor: Ingestor = request.app.state.ingestor
    await run_in_threadpool(ingestor.ingest, event, principal.name)
    return Response(status_code=201)
