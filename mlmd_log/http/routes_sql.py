"""Read-only SQL over the projection: one SELECT, answered as JSON rows or as an Arrow IPC stream.

The statement runs through the store's ``sql()`` (a single SELECT, checked by DuckDB's parser, in a
transaction that is rolled back, with external access disabled), under the server's time limit: past it
the query is interrupted and the answer is DeadlineExceededError (504), so no worker stays busy; running out
of DuckDB's memory limit is ResourceExhaustedError (429). ``Accept: application/vnd.apache.arrow.stream``
answers the Arrow IPC stream for dataframes (``pyarrow.ipc.open_stream``, ``polars.read_ipc_stream``). The
past is read with the ``<view>_as_of(P)`` and ``position_at(t)`` macros inside the query.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from mlmd_log.http import auth, models
from mlmd_log.http.params import answer, documented, reader
from mlmd_log.query.reader import Reader

router = APIRouter(prefix="/api/v1", tags=["sql"], dependencies=[Depends(auth.reader)])

ARROW_STREAM = "application/vnd.apache.arrow.stream"


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


def table_json(table: pa.Table) -> dict[str, Any]:
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    data = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [[_json_value(col[i]) for col in data] for i in range(table.num_rows)]
    return {"columns": columns, "rows": rows}


@router.post(
    "/sql", responses={**documented(models.SqlResult), 200: {"model": models.SqlResult, "content": {ARROW_STREAM: {}}}},
    summary="Run one read-only SELECT",
)
def sql(
    request: Request,
    query: models.SqlRequest,
    r: Annotated[Reader, Depends(reader)],
    accept: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    limit: float = request.app.state.sql_timeout_s
    timeout = min(query.timeoutS, limit) if query.timeoutS else limit
    table = r.sql(query.sql, list(query.params), timeout=timeout)
    if accept and ARROW_STREAM in accept:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)
    response: JSONResponse = answer(table_json(table))
    return response
