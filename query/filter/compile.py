"""Type-checks a parsed ``filter_query`` and compiles it to a DuckDB boolean fragment.

:func:`check` resolves names against the allow-lists of
:mod:`mlmd_log.query.filter.ast` and applies ZetaSQL's typing rules with its
error messages. :func:`compile_expr` emits SQL over the node version row ``v``
and its type row ``t``; SQL identifiers come only from those allow-lists or are
generated (``_f1``, ``_f1r``, ``_f1t``), and every literal, property name and
enum value is a ``?`` parameter.

MLMD evaluates a filter per *join row*: the node inner-joined with every
mentioned property and neighbourhood alias. The fragment reproduces that as
``EXISTS (SELECT 1 FROM <one join per property / alias> WHERE <joins> AND
(<expr>))``, so a node lacking a mentioned property never matches, even under
``NOT`` or ``IS NULL``. Joined relations, neighbour nodes and their types are
read as of the same log position as the node. Execution details follow MLMD's
SQLite backend: LIKE, LOWER and UPPER fold ASCII letters only, ``/`` is real
division and yields NULL for a zero divisor, integer overflow does not fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NoReturn

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.query.asof import version_filter
from mlmd_log.query.filter.ast import (
    NODE_FIELDS,
    NUMERIC,
    PROPERTY_FIELDS,
    Arith,
    Between,
    Column,
    Compare,
    EnumCompare,
    Expr,
    FieldAccess,
    Func,
    InList,
    IsCheck,
    Like,
    Literal,
    Logical,
    NeighbourRef,
    Not,
    Part,
    PropertyRef,
    Ref,
    Relation,
    Ty,
    Unary,
    property_key,
    relation_for,
    supertype,
)
from mlmd_log.query.filter.lexer import filter_error

_FUNCTIONS: Final = ("LOWER", "UPPER")
_TYPE_ORDER: Final = (Ty.INT64, Ty.NULL, Ty.BOOL, Ty.STRING, Ty.DOUBLE)
_UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER: Final = _UPPER.lower()


# -- checking --------------------------------------------------------------------------------------------


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _struct(rel: Relation) -> str:
    """The alias's STRUCT type as ZetaSQL prints it (MLMD's fields, at most three then ``...``)."""
    shown = [f"{n} {f.ty.value}" for n, f in rel.fields.items() if f.mlmd]
    return "STRUCT<" + ", ".join(shown[:3] + (["..."] if len(shown) > 3 else [])) + ">"


def _types(*exprs: Expr) -> str:
    return ", ".join(e.ty.value for e in exprs)


class _Checker:
    """Resolves names and types bottom-up, left to right (so the first error is ZetaSQL's first)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def visit(self, e: Expr) -> Expr:
        if isinstance(e, Literal):
            return e
        if isinstance(e, Ref):
            return self.ref(e)
        if isinstance(e, PropertyRef):
            return PropertyRef(custom=e.custom, name=e.name, field=e.field, ty=PROPERTY_FIELDS[e.field], pos=e.pos)
        if isinstance(e, FieldAccess):
            return self.no_field(self.visit(e.base), e.field)
        if isinstance(e, EnumCompare):
            return EnumCompare(target=self.visit(e.target), negated=e.negated, values=e.values, ty=Ty.BOOL, pos=e.pos)
        if isinstance(e, Unary):
            return self.unary(e)
        if isinstance(e, Arith):
            return self.arith(e)
        if isinstance(e, Func):
            return self.func(e)
        if isinstance(e, Not):
            operand = self.visit(e.operand)
            self.not_null("NOT", operand)
            if operand.ty is not Ty.BOOL:
                raise self.signature("NOT", [operand], "Supported signature: NOT (BOOL)", e)
            return Not(operand=operand, ty=Ty.BOOL, pos=e.pos)
        if isinstance(e, Logical):
            ops = tuple(self.visit(o) for o in e.operands)
            if any(o.ty not in (Ty.BOOL, Ty.NULL) for o in ops):
                raise self.signature(e.op, ops, f"Supported signature: BOOL {e.op} ([BOOL, ...])", e)
            return Logical(op=e.op, operands=ops, ty=Ty.BOOL, pos=e.pos)
        return self.predicate(e)

    def predicate(self, e: Expr) -> Expr:
        if isinstance(e, Compare):
            left, right = self.visit(e.left), self.visit(e.right)
            self.not_null(e.op, left, right)
            if supertype(left.ty, right.ty) is None:
                sigs = f"Supported signatures: ANY {e.op} ANY; INT64 {e.op} UINT64; UINT64 {e.op} INT64"
                raise self.signature(e.op, [left, right], sigs, e)
            return Compare(op=e.op, left=left, right=right, ty=Ty.BOOL, pos=e.pos)
        if isinstance(e, Like):
            left, pattern = self.visit(e.left), self.visit(e.pattern)
            self.not_null("LIKE", left, pattern)
            if left.ty is not Ty.STRING or pattern.ty is not Ty.STRING:
                sigs = "Supported signatures: STRING LIKE STRING; BYTES LIKE BYTES"
                raise self.signature("LIKE", [left, pattern], sigs, e)
            return Like(negated=e.negated, left=left, pattern=pattern, ty=Ty.BOOL, pos=e.pos)
        if isinstance(e, InList):
            left, items = self.visit(e.left), tuple(self.visit(i) for i in e.items)
            if self.common(left, *items) is None:
                kinds = sorted({i.ty for i in items}, key=_TYPE_ORDER.index)
                shown = ", ".join(k.value for k in kinds)
                raise filter_error(
                    f"No matching signature for operator IN for argument types {left.ty.value} and {{{shown}}}",
                    e.op_pos,
                )
            return InList(negated=e.negated, left=left, items=items, op_pos=e.op_pos, ty=Ty.BOOL, pos=e.pos)
        if isinstance(e, Between):
            value, low, high = self.visit(e.value), self.visit(e.low), self.visit(e.high)
            if self.common(value, low, high) is None:
                raise filter_error(
                    f"No matching signature for operator BETWEEN for argument types: {_types(value, low, high)}. "
                    "Supported signature: (ANY) BETWEEN (ANY) AND (ANY)",
                    e.op_pos,
                )
            return Between(
                negated=e.negated, value=value, low=low, high=high, op_pos=e.op_pos, ty=Ty.BOOL, pos=e.pos
            )
        assert isinstance(e, IsCheck), e
        operand = self.visit(e.operand)
        if e.what == "UNKNOWN" and operand.ty not in (Ty.BOOL, Ty.NULL):
            raise filter_error(
                f"Operand of IS {'NOT ' if e.negated else ''}UNKNOWN must be coercible to BOOL, "
                f"but has type {operand.ty.value}",
                e.pos,
            )
        if e.what in ("TRUE", "FALSE") and operand.ty not in (Ty.BOOL, Ty.NULL):
            raise self.signature(f"IS {e.what}", [operand], f"Supported signature: (BOOL) IS {e.what}", e)
        return IsCheck(negated=e.negated, what=e.what, operand=operand, ty=Ty.BOOL, pos=e.pos)

    def ref(self, e: Ref) -> Expr:
        first = e.parts[0]
        rel = relation_for(self.kind, first.name) if e.adjacent and not first.quoted else None
        if rel is not None and len(e.parts) >= 2:
            part = e.parts[1]
            field = rel.fields.get(part.name.lower())
            if field is None:
                near = [n for n in rel.fields if _distance(n, part.name.lower()) <= len(part.name) // 2]
                best = min(near, key=lambda n: _distance(n, part.name.lower()), default=None)
                hint = f"; Did you mean {best}?" if best else ""
                raise filter_error(f"Field name {part.name} does not exist in {_struct(rel)}{hint}", part.pos)
            node: Expr = NeighbourRef(
                alias=first.name, prefix=rel.prefix, field=part.name.lower(), enum=field.enum, ty=field.ty, pos=e.pos
            )
            rest = e.parts[2:]
        else:
            column = NODE_FIELDS[self.kind].get(first.name.lower())
            if column is None:
                raise filter_error(f"Unrecognized name: {first.name}", first.pos)
            node = Column(name=first.name.lower(), enum=column.enum, ty=column.ty, pos=e.pos)
            rest = e.parts[1:]
        return self.no_field(node, rest[0]) if rest else node

    def no_field(self, base: Expr, part: Part) -> NoReturn:
        raise filter_error(f"Cannot access field {part.name} on a value with type {base.ty.value}", part.pos)

    def unary(self, e: Unary) -> Expr:
        operand = self.visit(e.operand)
        self.not_null(e.op, operand)
        if operand.ty not in NUMERIC:
            if e.op == "+":
                raise filter_error(f"Operands of + must be numeric type but was {operand.ty.value}", operand.pos)
            sigs = "Supported signatures: -(INT32); -(INT64); -(FLOAT); -(DOUBLE)"
            raise self.signature("-", [operand], sigs, e)
        return Unary(op=e.op, operand=operand, ty=operand.ty, pos=e.pos)

    def arith(self, e: Arith) -> Expr:
        left, right = self.visit(e.left), self.visit(e.right)
        self.not_null(e.op, left, right)
        if left.ty not in NUMERIC or right.ty not in NUMERIC:
            sigs = (
                "Supported signature: DOUBLE / DOUBLE" if e.op == "/"
                else f"Supported signatures: INT64 {e.op} INT64; UINT64 {e.op} UINT64; DOUBLE {e.op} DOUBLE"
            )
            raise self.signature(e.op, [left, right], sigs, e)
        ty = Ty.DOUBLE if e.op == "/" or Ty.DOUBLE in (left.ty, right.ty) else Ty.INT64
        return Arith(op=e.op, left=left, right=right, ty=ty, pos=e.pos)

    def func(self, e: Func) -> Expr:
        name = e.name.upper()
        if name not in _FUNCTIONS:
            raise filter_error(f"Function not found: {e.name}", e.pos)
        args = tuple(self.visit(a) for a in e.args)
        sigs = f"Supported signatures: {name}(STRING); {name}(BYTES)"
        if not args:
            raise filter_error(f"No matching signature for function {name} with no arguments. {sigs}", e.pos)
        if len(args) != 1 or args[0].ty not in (Ty.STRING, Ty.NULL):
            raise filter_error(
                f"No matching signature for function {name} for argument types: {_types(*args)}. {sigs}", e.pos
            )
        return Func(name=name, args=args, ty=Ty.STRING, pos=e.pos)

    @staticmethod
    def common(*exprs: Expr) -> Ty | None:
        ty: Ty | None = Ty.NULL
        for x in exprs:
            ty = supertype(ty, x.ty) if ty is not None else None
        return ty

    @staticmethod
    def not_null(op: str, *operands: Expr) -> None:
        for o in operands:
            if o.ty is Ty.NULL:
                raise filter_error(f"Operands of {op} cannot be literal NULL", o.pos)

    @staticmethod
    def signature(op: str, args: Sequence[Expr], sigs: str, e: Expr) -> InvalidArgumentError:
        message = f"No matching signature for operator {op} for argument types: {_types(*args)}. {sigs}"
        err: InvalidArgumentError = filter_error(message, e.pos)
        return err


def check(kind: str, expr: Expr) -> Expr:
    """The typed tree of a parsed ``expr`` for nodes of ``kind``; raises MLMD's name and type errors."""
    return _Checker(kind).visit(expr)


# -- compiling -------------------------------------------------------------------------------------------

_CAST: Final = {Ty.INT64: "BIGINT", Ty.DOUBLE: "DOUBLE", Ty.STRING: "VARCHAR", Ty.BOOL: "BOOLEAN"}
SQL = tuple[str, list[object]]


def _fold(sql: str) -> str:
    return f"translate({sql}, '{_UPPER}', '{_LOWER}')"


class _Compiler:
    """Emits SQL for a checked tree, registering one join per distinct property and alias on the way."""

    def __init__(self, kind: str, position: int | None) -> None:
        self.kind = kind
        self.position = position
        self.count = 0
        self.props: dict[tuple[bool, str], str] = {}
        self.aliases: dict[str, tuple[str, Relation]] = {}
        self.typed: set[str] = set()

    def fresh(self) -> str:
        self.count += 1
        return f"_f{self.count}"

    def many(self, exprs: tuple[Expr, ...], sep: str) -> SQL:
        parts = [self.emit(x) for x in exprs]
        return sep.join(p[0] for p in parts), [v for p in parts for v in p[1]]

    def emit(self, e: Expr) -> SQL:
        if isinstance(e, Literal):
            return ("NULL", []) if e.ty is Ty.NULL else (f"CAST(? AS {_CAST[e.ty]})", [e.value])
        if isinstance(e, (Column, NeighbourRef, PropertyRef)):
            return self.column(e), []
        if isinstance(e, EnumCompare):
            col = self.column(e.target)
            marks = ", ".join("?" for _ in e.values)
            if e.negated:
                return f"(({col} NOT IN ({marks})) OR ({col} IS NULL))", list(e.values)
            return f"({col} IN ({marks}))", list(e.values)
        if isinstance(e, Compare):
            (a, pa), (b, pb) = self.emit(e.left), self.emit(e.right)
            return f"({a} {'<>' if e.op == '!=' else e.op} {b})", pa + pb
        if isinstance(e, Like):
            (a, pa), (b, pb) = self.emit(e.left), self.emit(e.pattern)
            return f"({'NOT ' if e.negated else ''}({_fold(a)} LIKE {_fold(b)}))", pa + pb
        if isinstance(e, InList):
            (a, pa), (items, pi) = self.emit(e.left), self.many(e.items, ", ")
            return f"({a} {'NOT ' if e.negated else ''}IN ({items}))", pa + pi
        if isinstance(e, Between):
            (a, pa), (lo, pl), (hi, ph) = self.emit(e.value), self.emit(e.low), self.emit(e.high)
            return f"({a} {'NOT ' if e.negated else ''}BETWEEN {lo} AND {hi})", pa + pl + ph
        if isinstance(e, IsCheck):
            a, pa = self.emit(e.operand)
            what = "NULL" if e.what == "UNKNOWN" else e.what
            return f"({a} IS {'NOT ' if e.negated else ''}{what})", pa
        if isinstance(e, Not):
            a, pa = self.emit(e.operand)
            return f"(NOT {a})", pa
        if isinstance(e, Logical):
            body, params = self.many(e.operands, f" {e.op} ")
            return f"({body})", params
        return self.scalar(e)

    def scalar(self, e: Expr) -> SQL:
        if isinstance(e, Arith):
            (a, pa), (b, pb) = self.emit(e.left), self.emit(e.right)
            if e.op == "/":
                return f"(CAST({a} AS DOUBLE) / NULLIF(CAST({b} AS DOUBLE), 0))", pa + pb
            if e.ty is Ty.INT64:  # exact, and NULL rather than an error past 128 bits
                return f"TRY(CAST({a} AS HUGEINT) {e.op} CAST({b} AS HUGEINT))", pa + pb
            return f"(CAST({a} AS DOUBLE) {e.op} CAST({b} AS DOUBLE))", pa + pb
        if isinstance(e, Unary):
            a, pa = self.emit(e.operand)
            if e.op == "+":
                return a, pa
            return (f"TRY(-CAST({a} AS HUGEINT))" if e.ty is Ty.INT64 else f"(-CAST({a} AS DOUBLE))"), pa
        assert isinstance(e, Func) and e.name in _FUNCTIONS, e
        a, pa = self.emit(e.args[0])
        src, dst = (_UPPER, _LOWER) if e.name == "LOWER" else (_LOWER, _UPPER)
        return f"translate(CAST({a} AS VARCHAR), '{src}', '{dst}')", pa

    def column(self, e: Expr) -> str:
        """The SQL column for a reference; names are checked against the allow-lists first."""
        if isinstance(e, Column):
            assert e.name in NODE_FIELDS[self.kind]
            return "t.name" if e.name == "type" else f"v.{e.name}"
        if isinstance(e, PropertyRef):
            assert e.field in PROPERTY_FIELDS
            key = (e.custom, property_key(e.name))
            if key not in self.props:
                self.props[key] = self.fresh()
            return f"{self.props[key]}.{e.field}"
        assert isinstance(e, NeighbourRef), e
        rel = relation_for(self.kind, e.alias)
        assert rel is not None and e.field in rel.fields
        if e.alias not in self.aliases:
            self.aliases[e.alias] = (self.fresh(), rel)
        alias = self.aliases[e.alias][0]
        if e.field == "type" and rel.target is not None:
            self.typed.add(alias)
            return f"{alias}t.name"
        return f"{alias}.{e.field}"

    def joins(self) -> tuple[list[str], list[str], list[object]]:
        """FROM items, their join conditions and the conditions' parameters, in text order."""
        items: list[str] = []
        conds: list[str] = []
        params: list[object] = []
        kind = self.kind

        def versioned(table: str, alias: str, cond: str) -> None:
            vf, vp = version_filter(alias, self.position)
            items.append(f"{table} {alias}")
            conds.append(f"{cond} AND {vf}")
            params.extend(vp)

        for (custom, key), alias in self.props.items():
            items.append(f"{kind}_property_versions {alias}")
            conds.append(
                f"{alias}.{kind}_id = v.id AND {alias}.valid_from = v.valid_from "
                f"AND {alias}.name = ? AND {alias}.is_custom = ?"
            )
            params += [key, custom]
        for alias, rel in self.aliases.values():
            if rel.target is None:
                versioned(f"{rel.link}_versions", alias, f"{alias}.{rel.own} = v.id")
                continue
            versioned(f"{rel.link}_versions", f"{alias}r", f"{alias}r.{rel.own} = v.id")
            versioned(f"{rel.target}_versions", alias, f"{alias}.id = {alias}r.{rel.other}")
            if alias in self.typed:
                versioned("type_versions", f"{alias}t", f"{alias}t.id = {alias}.type_id")
        return items, conds, params


def compile_expr(kind: str, expr: Expr, position: int | None) -> SQL:
    """SQL boolean fragment (over ``v`` and ``t``) and parameters for a checked tree."""
    compiler = _Compiler(kind, position)
    body, params = compiler.emit(expr)
    items, conds, join_params = compiler.joins()
    if not items:
        return f"({body})", params
    where = " AND ".join(conds)
    sql = f"EXISTS (SELECT 1 FROM {', '.join(items)} WHERE {where} AND ({body}))"  # noqa: S608 -- allow-listed names
    return sql, join_params + params
