"""Artifact, execution and context types: all of them, by name and version, or by id; every read takes ``asOf``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.http import auth, models
from mlmd_log.http.params import (
    AsOfParam,
    Int64,
    answer,
    documented,
    messages_json,
    parse_as_of,
    reader,
)
from mlmd_log.query.reader import Reader

router = APIRouter(prefix="/api/v1/types", tags=["types"], dependencies=[Depends(auth.reader)])


class TypeKind(StrEnum):
    artifact = "artifact"
    execution = "execution"
    context = "context"


def _types_route(kind: str) -> None:
    @router.get(f"/{kind}", responses=documented(models.type_list(kind)), summary=f"{kind.capitalize()} types",
                name=f"{kind}_types")
    def types(
        r: Annotated[Reader, Depends(reader)],
        as_of: AsOfParam = None,
        name: Annotated[str | None, Query(max_length=1024, description="the type of this name")] = None,
        version: Annotated[str | None, Query(max_length=1024, description="with name: that version")] = None,
        ids: Annotated[list[Int64] | None, Query(max_length=1000)] = None,
    ) -> JSONResponse:
        at = parse_as_of(as_of)
        if name is not None:
            if ids is not None:
                raise InvalidArgumentError("give name or ids, not both")
            return answer({"items": messages_json([getattr(r, f"get_{kind}_type")(name, version, as_of=at)])})
        if version is not None:
            raise InvalidArgumentError("version needs name")
        if ids is not None:
            return answer({"items": messages_json(getattr(r, f"get_{kind}_types_by_id")(ids, as_of=at))})
        return answer({"items": messages_json(getattr(r, f"get_{kind}_types")(as_of=at))})


for _kind in TypeKind:
    _types_route(_kind.value)
