"""Typed models of every body the HTTP API sends or accepts, from which FastAPI writes the OpenAPI 3.1 description.

MLMD's messages (Artifact, Execution, Context, the three types, Event, LineageGraph) travel in protobuf's
JSON mapping (``google.protobuf.json_format``: lowerCamelCase names, 64-bit integers as decimal strings,
enums by name, ``Struct`` as a JSON object). Their models are derived here from the protobuf descriptors
themselves, so the description cannot drift from the wire: :func:`proto_model`. The envelopes around
them (pages, history, changes, the log position, SQL, errors) are written out below.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal

from google.protobuf.descriptor import FieldDescriptor
from pydantic import BaseModel, ConfigDict, Field, create_model

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

_INT64 = Annotated[str, Field(pattern=r"^-?[0-9]+$", description="a 64-bit integer, as protobuf's JSON writes it")]
_DOUBLE = float | Literal["NaN", "Infinity", "-Infinity"]
_SCALARS: dict[int, Any] = {
    FieldDescriptor.TYPE_INT64: _INT64, FieldDescriptor.TYPE_UINT64: _INT64, FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_FIXED64: _INT64, FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_INT32: int, FieldDescriptor.TYPE_UINT32: int, FieldDescriptor.TYPE_SINT32: int,
    FieldDescriptor.TYPE_FIXED32: int, FieldDescriptor.TYPE_SFIXED32: int,
    FieldDescriptor.TYPE_DOUBLE: _DOUBLE, FieldDescriptor.TYPE_FLOAT: _DOUBLE,
    FieldDescriptor.TYPE_BOOL: bool, FieldDescriptor.TYPE_STRING: str,
    FieldDescriptor.TYPE_BYTES: Annotated[str, Field(description="bytes, base64")],
}
_WELL_KNOWN: dict[str, Any] = {
    "google.protobuf.Struct": dict[str, Any],
    "google.protobuf.Any": Annotated[dict[str, Any], Field(description="a packed message with its @type")],
    "google.protobuf.Value": Any,
    "google.protobuf.ListValue": list[Any],
}
_MODELS: dict[str, type[BaseModel]] = {}
_BUILDING: set[str] = set()


def _model_name(descriptor: Any) -> str:
    return "".join(part[:1].upper() + part[1:] for part in descriptor.full_name.split(".")[1:])


def _field_type(field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        message = field.message_type
        assert message is not None
        if message.GetOptions().map_entry:
            return dict[str, _field_type(message.fields_by_name["value"])]  # type: ignore[misc]
        inner = _WELL_KNOWN.get(message.full_name)
        if inner is None:
            # A message being built (a recursive type, e.g. ArtifactStructType) is named; resolved on rebuild.
            inner = _model_name(message) if message.full_name in _BUILDING else proto_model(message)
    elif field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        names = tuple(v.name for v in field.enum_type.values)
        inner = Literal[names] | int  # an unknown number is written as the number
    else:
        inner = _SCALARS[field.type]
    if field.is_repeated:
        return list[inner]  # type: ignore[valid-type]
    return inner


def proto_model(descriptor: Any) -> type[BaseModel]:
    """A pydantic model of ``descriptor``'s protobuf JSON form (every field optional, as proto2 makes them)."""
    name = _model_name(descriptor)
    found = _MODELS.get(descriptor.full_name)
    if found is not None:
        return found
    _BUILDING.add(descriptor.full_name)
    try:
        fields: dict[str, Any] = {}
        for field in descriptor.fields:
            annotation = _field_type(field)
            fields[field.json_name] = (annotation | None if not isinstance(annotation, str) else
                                       f"{annotation} | None", None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a proto field named like a BaseModel attribute ("dict")
            model: type[BaseModel] = create_model(
                name, __doc__=f"MLMD's {descriptor.full_name} in protobuf JSON.", **fields
            )
    finally:
        _BUILDING.discard(descriptor.full_name)
    _MODELS[descriptor.full_name] = model
    if not _BUILDING:
        names = {m.__name__: m for m in _MODELS.values()}
        for built in _MODELS.values():
            built.model_rebuild(_types_namespace=names)
    return model


Artifact = proto_model(mlmd.Artifact.DESCRIPTOR)
Execution = proto_model(mlmd.Execution.DESCRIPTOR)
Context = proto_model(mlmd.Context.DESCRIPTOR)
ArtifactType = proto_model(mlmd.ArtifactType.DESCRIPTOR)
ExecutionType = proto_model(mlmd.ExecutionType.DESCRIPTOR)
ContextType = proto_model(mlmd.ContextType.DESCRIPTOR)
Event = proto_model(mlmd.Event.DESCRIPTOR)
LineageGraph = proto_model(mlmd.LineageGraph.DESCRIPTOR)

NODE_MODELS: dict[str, type[BaseModel]] = {"artifact": Artifact, "execution": Execution, "context": Context}
TYPE_MODELS: dict[str, type[BaseModel]] = {"artifact": ArtifactType, "execution": ExecutionType, "context": ContextType}


class ErrorBody(BaseModel):
    """Every error: MLMD's error class, its absl/gRPC code and a message saying what to change."""

    error: str = Field(examples=["NotFoundError"])
    code: int
    message: str


def node_page(kind: str) -> type[BaseModel]:
    """A page of nodes of ``kind`` and the token of the next page (absent at the end)."""
    return create_model(
        f"{kind.capitalize()}Page", __doc__=f"A page of {kind}s.",
        items=(list[NODE_MODELS[kind]], ...),  # type: ignore[valid-type]
        nextPageToken=(str | None, Field(None, description="absent on the last page; pass it back as pageToken")),
    )


def type_list(kind: str) -> type[BaseModel]:
    return create_model(
        f"{kind.capitalize()}TypeList", __doc__=f"{kind.capitalize()} types.",
        items=(list[TYPE_MODELS[kind]], ...),  # type: ignore[valid-type]
    )


class EventList(BaseModel):
    """Events (input and output edges between artifacts and executions)."""

    items: list[Event]  # type: ignore[valid-type]


class Change(BaseModel):
    """One op of the log: what it was, whether it applied, who appended it and when."""

    position: int
    opId: str | None
    payload: str | None = Field(description="the op's kind, e.g. put_execution")
    outcome: str = Field(description="applied, rejected or duplicate")
    team: str | None
    service: str | None
    user: str | None = Field(description="the principal a server authenticated, or the producer's user")
    host: str | None
    timeMs: int = Field(description="the log's record time, ms since the epoch")


def version_model(kind: str) -> type[BaseModel]:
    """One version of a node and the op that wrote it."""
    return create_model(
        f"{kind.capitalize()}Version", __doc__=f"One version of a {kind}, valid over [validFrom, validTo).",
        node=(NODE_MODELS[kind], ...), validFrom=(int, ...), validTo=(int | None, None), change=(Change, ...),
    )


def history_model(kind: str) -> type[BaseModel]:
    return create_model(
        f"{kind.capitalize()}History", __doc__=f"Every version of a {kind}, oldest first.",
        kind=(str, ...), id=(int, ...), versions=(list[version_model(kind)], ...),  # type: ignore[misc,arg-type]
    )


class FieldChange(BaseModel):
    """A field of an entity before and after a change (null where absent)."""

    field: str
    old: Any = None
    new: Any = None


class EntityChange(BaseModel):
    """One new version of an entity or one new relation, with the fields it changed."""

    kind: str = Field(description="artifact, execution, context, type, event, attribution, association, parent_context")
    ids: list[int]
    action: str = Field(description="created, updated or added")
    position: int
    previous: int | None = Field(description="validFrom of the version replaced (null: created)")
    fields: list[FieldChange]
    change: Change


class Changes(BaseModel):
    """What the log positions (after, upTo] did: the ops, and the entity versions they wrote."""

    after: int
    upTo: int
    ops: list[Change]
    entities: list[EntityChange]


class Position(BaseModel):
    """A log position (the last the projection has applied, or the one a time maps to) and its time."""

    position: int = Field(description="-1 for an empty log")
    timeMs: int | None = Field(description="the log's record time of that position, ms since the epoch")
    time: str | None = Field(description="the same time, ISO 8601 UTC")


class SqlRequest(BaseModel):
    """One read-only SELECT over the documented tables, views and macros; ``?`` marks a parameter."""

    model_config = ConfigDict(extra="forbid")

    sql: str = Field(max_length=100_000, examples=["SELECT count(*) AS n FROM artifacts"])
    params: list[str | int | float | bool | None] = Field(default_factory=list, max_length=1000)
    timeoutS: float | None = Field(default=None, gt=0, description="at most the server's limit (the default)")


class SqlColumn(BaseModel):
    name: str
    type: str = Field(description="the Arrow type")


class SqlResult(BaseModel):
    """A query's rows as JSON arrays, in column order (ask for Arrow IPC with Accept for dataframes)."""

    columns: list[SqlColumn]
    rows: list[list[Any]]
