"""Events and the lineage subgraph: the edges between artifacts and executions, as of any position.

``GET /api/v1/lineage-subgraph`` is MLMD's ``get_lineage_subgraph``: starting nodes by ``filterQuery``, at most
``maxHops`` hops in ``direction``, optionally stopping at ending nodes; the answer is MLMD's LineageGraph
(nodes, events, types and contexts) in protobuf JSON, ready to draw.
"""

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
    message_json,
    messages_json,
    parse_as_of,
    reader,
)
from mlmd_log.query.reader import Reader
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

router = APIRouter(prefix="/api/v1", tags=["lineage"], dependencies=[Depends(auth.reader)])

_GRAPH_FIELDS = tuple(f.name for f in mlmd.LineageGraph.DESCRIPTOR.fields)


class Direction(StrEnum):
    upstream = "upstream"
    downstream = "downstream"
    both = "both"


_DIRECTION = {
    Direction.upstream: mlmd.LineageSubgraphQueryOptions.UPSTREAM,
    Direction.downstream: mlmd.LineageSubgraphQueryOptions.DOWNSTREAM,
    Direction.both: mlmd.LineageSubgraphQueryOptions.BIDIRECTIONAL,
}


@router.get("/events", responses=documented(models.EventList), summary="Events of artifacts or executions")
def events(
    r: Annotated[Reader, Depends(reader)],
    as_of: AsOfParam = None,
    artifact_ids: Annotated[list[Int64] | None, Query(alias="artifactIds", max_length=1000)] = None,
    execution_ids: Annotated[list[Int64] | None, Query(alias="executionIds", max_length=1000)] = None,
) -> JSONResponse:
    if (artifact_ids is None) == (execution_ids is None):
        raise InvalidArgumentError("give artifactIds or executionIds (one of them)")
    at = parse_as_of(as_of)
    found = (r.get_events_by_artifact_ids(artifact_ids, as_of=at) if artifact_ids is not None
             else r.get_events_by_execution_ids(execution_ids or [], as_of=at))
    return answer({"items": messages_json(found)})


@router.get("/lineage-subgraph", responses=documented(models.LineageGraph), summary="MLMD's lineage subgraph")
def lineage_subgraph(
    r: Annotated[Reader, Depends(reader)],
    as_of: AsOfParam = None,
    starting_artifacts: Annotated[str | None, Query(alias="startingArtifacts", max_length=10_000,
                                                    description="filter_query choosing the starting artifacts")] = None,
    starting_executions: Annotated[str | None, Query(alias="startingExecutions", max_length=10_000)] = None,
    max_hops: Annotated[int, Query(alias="maxHops", ge=0, le=1000)] = 20,
    direction: Direction = Direction.both,
    ending_artifacts: Annotated[str | None, Query(alias="endingArtifacts", max_length=10_000)] = None,
    ending_executions: Annotated[str | None, Query(alias="endingExecutions", max_length=10_000)] = None,
    include_ending: Annotated[bool, Query(alias="includeEndingNodes")] = False,
    fields: Annotated[list[str] | None, Query(max_length=7, description=f"LineageGraph fields: {', '.join(_GRAPH_FIELDS)}")] = None,
) -> JSONResponse:
    if (starting_artifacts is None) == (starting_executions is None):
        raise InvalidArgumentError("give startingArtifacts or startingExecutions (one filter_query)")
    unknown = sorted(set(fields or ()) - set(_GRAPH_FIELDS))
    if unknown:
        raise InvalidArgumentError(f"unknown LineageGraph fields {unknown}; known: {', '.join(_GRAPH_FIELDS)}")
    options = mlmd.LineageSubgraphQueryOptions(max_num_hops=max_hops, direction=_DIRECTION[direction])
    if starting_artifacts is not None:
        options.starting_artifacts.filter_query = starting_artifacts
    else:
        options.starting_executions.filter_query = starting_executions or ""
    if ending_artifacts:
        options.ending_artifacts.filter_query = ending_artifacts
        options.ending_artifacts.include_ending_nodes = include_ending
    if ending_executions:
        options.ending_executions.filter_query = ending_executions
        options.ending_executions.include_ending_nodes = include_ending
    graph = r.get_lineage_subgraph(options, fields, as_of=parse_as_of(as_of))
    return answer(message_json(graph))
