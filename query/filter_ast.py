"""The typed AST of MLMD's ``filter_query`` language and the names it may refer to.

The parser (:mod:`mlmd_log.query.filter_query`) builds these frozen nodes; its
checker resolves names against the allow-lists below and fills ``ty``; the
compiler (:mod:`mlmd_log.query.filter_compile`) turns a checked tree into SQL.
Every column a query can reach is listed here, so no user text ever names SQL.

Names and types follow MLMD 1.17.1, which declares the node attributes as
ZetaSQL columns and each neighbourhood alias (``contexts_X``, ``events_X``,
...) as a STRUCT column.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd


class Ty(enum.Enum):
    """A ZetaSQL type as MLMD's columns use them; NULL is the type of the literal ``NULL``."""

    INT64 = "INT64"
    DOUBLE = "DOUBLE"
    STRING = "STRING"
    BOOL = "BOOL"
    NULL = "NULL"
    UNRESOLVED = "UNRESOLVED"


NUMERIC: Final = frozenset({Ty.INT64, Ty.DOUBLE})


def supertype(a: Ty, b: Ty) -> Ty | None:
    """The type both operands coerce to (ZetaSQL: NULL fits anything, INT64 widens to DOUBLE), or None."""
    if a is Ty.NULL:
        return b
    if b is Ty.NULL or a is b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return Ty.DOUBLE
    return None


@dataclass(frozen=True)
class Pos:
    """A place in the query text: 1-based line and column (in characters), and the 0-based offset."""

    line: int
    col: int
    offset: int

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"


# -- names a query can use -------------------------------------------------------------------------------

#: Enum columns MLMD rewrites (``state = LIVE``): accepted names only; others are "Unsupported enum value".
ENUMS: Final[dict[str, dict[str, int]]] = {
    "artifact_state": {
        n: mlmd.Artifact.State.Value(n) for n in ("UNKNOWN", "PENDING", "LIVE", "MARKED_FOR_DELETION", "DELETED")
    },
    "execution_state": {
        n: mlmd.Execution.State.Value(n)
        for n in ("UNKNOWN", "NEW", "RUNNING", "COMPLETE", "FAILED", "CACHED", "CANCELED")
    },
    "event_type": {
        n: mlmd.Event.Type.Value(n)
        for n in ("INPUT", "OUTPUT", "DECLARED_INPUT", "DECLARED_OUTPUT", "INTERNAL_INPUT", "INTERNAL_OUTPUT")
    },
}


@dataclass(frozen=True)
class Field:
    """A column a query may name: its type, its enum (if MLMD rewrites enum names for it), and
    whether MLMD 1.17.1 declares it (extensions work here but are left out of MLMD-style messages)."""

    ty: Ty
    enum: str | None = None
    mlmd: bool = True


_COMMON: Final[dict[str, Field]] = {
    "id": Field(Ty.INT64),
    "type_id": Field(Ty.INT64),
    "type": Field(Ty.STRING),
    "create_time_since_epoch": Field(Ty.INT64),
    "last_update_time_since_epoch": Field(Ty.INT64),
    "name": Field(Ty.STRING),
    "external_id": Field(Ty.STRING),
}
_KIND_EXTRA: Final[dict[str, dict[str, Field]]] = {
    "artifact": {"uri": Field(Ty.STRING), "state": Field(Ty.INT64, "artifact_state")},
    "execution": {"last_known_state": Field(Ty.INT64, "execution_state")},
    "context": {},
}
#: The attributes of a node of each kind (the node version row ``v``; ``type`` is the type row's name).
NODE_FIELDS: Final[dict[str, dict[str, Field]]] = {k: {**_COMMON, **extra} for k, extra in _KIND_EXTRA.items()}


def _neighbour(kind: str) -> dict[str, Field]:
    """Fields of a neighbour node alias; MLMD declares id, name, type and the two times (plus uri/state)."""
    out = {
        "id": Field(Ty.INT64),
        "name": Field(Ty.STRING),
        "type": Field(Ty.STRING),
        "create_time_since_epoch": Field(Ty.INT64),
        "last_update_time_since_epoch": Field(Ty.INT64),
    }
    out.update({n: f for n, f in _KIND_EXTRA[kind].items()})
    out["type_id"] = Field(Ty.INT64, mlmd=False)
    out["external_id"] = Field(Ty.STRING, mlmd=False)
    return out


def _events(other: str, own: str) -> dict[str, Field]:
    return {
        "type": Field(Ty.INT64, "event_type"),
        "milliseconds_since_epoch": Field(Ty.INT64),
        other: Field(Ty.INT64),
        own: Field(Ty.INT64, mlmd=False),
    }


@dataclass(frozen=True)
class Relation:
    """A neighbourhood alias family: the alias prefix, how it links to the node, and its fields.

    ``link`` is the relation table, ``own``/``other`` its columns pointing at the filtered node and at
    the neighbour; ``target`` is the neighbour's node kind (None: the link rows themselves, i.e. events).
    """

    prefix: str
    link: str
    own: str
    other: str
    target: str | None
    fields: dict[str, Field]


#: Neighbourhood aliases per node kind. Each distinct alias (``contexts_a``) is one existential join.
RELATIONS: Final[dict[str, tuple[Relation, ...]]] = {
    "artifact": (
        Relation("contexts_", "attribution", "artifact_id", "context_id", "context", _neighbour("context")),
        Relation("events_", "event", "artifact_id", "execution_id", None, _events("execution_id", "artifact_id")),
    ),
    "execution": (
        Relation("contexts_", "association", "execution_id", "context_id", "context", _neighbour("context")),
        Relation("events_", "event", "execution_id", "artifact_id", None, _events("artifact_id", "execution_id")),
    ),
    "context": (
        Relation("parent_contexts_", "parent_context", "child_id", "parent_id", "context", _neighbour("context")),
        Relation("child_contexts_", "parent_context", "parent_id", "child_id", "context", _neighbour("context")),
        Relation("artifacts_", "attribution", "context_id", "artifact_id", "artifact", _neighbour("artifact")),
        Relation("executions_", "association", "context_id", "execution_id", "execution", _neighbour("execution")),
    ),
}

PROPERTY_FIELDS: Final[dict[str, Ty]] = {
    "int_value": Ty.INT64,
    "double_value": Ty.DOUBLE,
    "string_value": Ty.STRING,
    "bool_value": Ty.BOOL,
}

_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as MLMD's SQLite backend does for LOWER() and LIKE."""
    return text.translate(_ASCII_LOWER)


def property_key(name: str) -> str:
    """The stored property name a mention matches: MLMD lower-cases it (``properties.Day`` finds ``day``;
    a property stored as ``MyProp`` can never be matched), so this does too."""
    return ascii_lower(name)


def relation_for(kind: str, alias: str) -> Relation | None:
    """The relation an alias like ``contexts_a`` names for ``kind`` (prefix + at least one word char)."""
    for rel in RELATIONS[kind]:
        if alias.startswith(rel.prefix) and len(alias) > len(rel.prefix):
            return rel
    return None


# -- nodes -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Expr:
    """Base of every node: where it starts in the text and (after checking) its type."""

    pos: Pos
    ty: Ty = Ty.UNRESOLVED


@dataclass(frozen=True, kw_only=True)
class Literal(Expr):
    value: int | float | str | bool | None


@dataclass(frozen=True)
class Part:
    """One identifier of a dotted path, as written (``quoted``: it was back-quoted)."""

    name: str
    pos: Pos
    quoted: bool = False


@dataclass(frozen=True, kw_only=True)
class Ref(Expr):
    """An unresolved dotted name; ``adjacent``: the first dot touches the first name (alias syntax)."""

    parts: tuple[Part, ...]
    adjacent: bool = False


@dataclass(frozen=True, kw_only=True)
class Column(Expr):
    """An attribute of the filtered node (``id``, ``name``, ``type``, ``state``, ...)."""

    name: str
    enum: str | None = None


@dataclass(frozen=True, kw_only=True)
class PropertyRef(Expr):
    """``[custom_]properties.NAME.FIELD``: one inner join per distinct (custom, NAME)."""

    custom: bool
    name: str
    field: str


@dataclass(frozen=True, kw_only=True)
class NeighbourRef(Expr):
    """``ALIAS.FIELD`` for a neighbourhood alias (``contexts_a.name``, ``events_x.type``)."""

    alias: str
    prefix: str
    field: str
    enum: str | None = None


@dataclass(frozen=True, kw_only=True)
class FieldAccess(Expr):
    """``expr.field`` on something that is not a struct: always an error once the base is typed."""

    base: Expr
    field: Part


@dataclass(frozen=True, kw_only=True)
class Unary(Expr):
    op: str  # "-" or "+"
    operand: Expr


@dataclass(frozen=True, kw_only=True)
class Arith(Expr):
    op: str  # + - * /
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True)
class Func(Expr):
    name: str  # upper-case
    args: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True)
class Compare(Expr):
    op: str  # = != < <= > >=  (<> is spelled !=)
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True)
class Like(Expr):
    negated: bool
    left: Expr
    pattern: Expr


@dataclass(frozen=True, kw_only=True)
class InList(Expr):
    negated: bool
    left: Expr
    items: tuple[Expr, ...]
    op_pos: Pos


@dataclass(frozen=True, kw_only=True)
class Between(Expr):
    negated: bool
    value: Expr
    low: Expr
    high: Expr
    op_pos: Pos


@dataclass(frozen=True, kw_only=True)
class IsCheck(Expr):
    negated: bool
    what: str  # NULL, TRUE, FALSE, UNKNOWN
    operand: Expr


@dataclass(frozen=True, kw_only=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, kw_only=True)
class Logical(Expr):
    op: str  # AND or OR
    operands: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True)
class EnumCompare(Expr):
    """MLMD's enum rewrite: ``col = V`` / ``col IN (V, ...)``; negated (``!=``, ``NOT IN``) also keeps NULLs."""

    target: Expr
    negated: bool
    values: tuple[int, ...]
