"""filter_query against a plain-Python reading of MLMD's semantics, on generated data and queries.

Hypothesis builds small artifact histories (one or two versions per artifact, typed and custom properties,
some missing, some holding a value of another type) straight into the projection tables, picks an as-of
position, and generates filters from the constructs MLMD supports. DuckDB's answer for the compiled
fragment must equal :func:`evaluate`'s, which reads the parsed tree the way MLMD does: one row per node
inner-joined with each mentioned property, SQL three-valued logic, ASCII-only case folding, enum
inequality that keeps NULLs. A second property checks that literals only ever reach SQL as parameters.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from projection import empty_projection, insert_rows

from mlmd_log.query.asof import version_filter
from mlmd_log.query.filter import ast
from mlmd_log.query.filter.parser import compile_filter, parse_filter

PROFILE = settings.get_profile("ci")  # registered in conftest.py

TYPE_ID = 10
#: Property name -> the value column it is declared with (a generated row may use another one).
PROPERTIES = {"i": "int_value", "s": "string_value", "d": "double_value", "b": "bool_value"}
Value = int | float | str | bool | None


# -- data ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One version of an artifact: its attributes, its property rows and its validity."""

    node_id: int
    name: str | None
    uri: str
    state: int | None
    valid_from: int
    valid_to: int | None
    #: (name, is_custom) -> (value column, value)
    props: dict[tuple[str, bool], tuple[str, Value]] = field(default_factory=dict)


_strings = st.sampled_from(["", "a", "A", "aB", "Ab", "b_", "Ü", "ü", "a'b", "%"])
_values = {
    "int_value": st.integers(-2, 6),
    "string_value": _strings,
    "double_value": st.sampled_from([-1.5, 0.0, 0.5, 2.0, 3.25]),
    "bool_value": st.booleans(),
}


@st.composite
def _props(draw: st.DrawFn) -> dict[tuple[str, bool], tuple[str, Value]]:
    out: dict[tuple[str, bool], tuple[str, Value]] = {}
    for name, declared in PROPERTIES.items():
        for custom in (False, True):
            if draw(st.booleans()):
                column = declared if draw(st.integers(0, 3)) else draw(st.sampled_from(list(_values)))
                out[(name, custom)] = (column, draw(_values[column]))
    return out


@st.composite
def histories(draw: st.DrawFn) -> list[Version]:
    """1-5 artifacts, each with one or two versions valid over log positions 0..6."""
    versions = []
    for node_id in range(1, draw(st.integers(1, 5)) + 1):
        start = draw(st.integers(0, 3))
        change = draw(st.none() | st.integers(start + 1, 6))
        spans = [(start, change)] if change is None else [(start, change), (change, None)]
        for valid_from, valid_to in spans:
            versions.append(Version(
                node_id=node_id,
                name=draw(st.none() | _strings),
                uri=draw(st.sampled_from(["", "/a", "/A/b"])),
                state=draw(st.none() | st.integers(0, 4)),
                valid_from=valid_from,
                valid_to=valid_to,
                props=draw(_props()),
            ))
    return versions


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty projection (one artifact type) that each example refills."""
    yield from empty_projection(TYPE_ID)


def _load(con: duckdb.DuckDBPyConnection, versions: list[Version]) -> None:
    con.execute("DELETE FROM artifact_versions")
    con.execute("DELETE FROM artifact_property_versions")
    insert_rows(
        con, "artifact_versions",
        "id, type_id, name, uri, state, create_time_since_epoch, last_update_time_since_epoch, proto, valid_from, valid_to",
        [[v.node_id, TYPE_ID, v.name, v.uri, v.state, 0, 0, b"", v.valid_from, v.valid_to] for v in versions],
    )
    insert_rows(
        con, "artifact_property_versions", "artifact_id, valid_from, name, is_custom, " + ", ".join(PROPERTIES.values()),
        [
            [v.node_id, v.valid_from, name, custom, *(value if column == c else None for c in PROPERTIES.values())]
            for v in versions
            for (name, custom), (column, value) in v.props.items()
        ],
    )


def run(con: duckdb.DuckDBPyConnection, query: str, position: int | None) -> list[int]:
    fragment, params = compile_filter("artifact", query, position)
    vf, vparams = version_filter("v", position)
    rows = con.execute(
        "SELECT v.id FROM artifact_versions v JOIN type_versions t ON t.id = v.type_id AND t.valid_to IS NULL "
        f"WHERE {vf} AND ({fragment}) ORDER BY v.id",
        [*vparams, *params],
    ).fetchall()
    return [r[0] for r in rows]


# -- queries ---------------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_int_lit = st.integers(-2, 6).map(str)
_dbl_lit = st.sampled_from(["0.5", "2.0", "-1.5", "3.25", "1e0"])
_str_lit = _strings.map(_quote)


def _prop(name: str, column: str) -> st.SearchStrategy[str]:
    return st.sampled_from([f"properties.{name}.{column}", f"custom_properties.{name}.{column}"])


_ints = st.one_of(st.just("id"), _prop("i", "int_value"), _prop("s", "int_value"), _int_lit)
_numbers = st.one_of(_ints, _prop("d", "double_value"), _dbl_lit)
_strs = st.one_of(
    st.sampled_from(["name", "uri", "LOWER(name)", "UPPER(uri)"]), _prop("s", "string_value"),
    _prop("i", "string_value"), _str_lit,
)
_bools = st.one_of(_prop("b", "bool_value"), st.sampled_from(["TRUE", "FALSE"]))
_like = st.sampled_from(["a", "A", "a%", "A%", "%b", "%B", "_b", "_B", "ü", "Ü%", "%", "_", "b\\_"]).map(_quote) | st.lists(
    st.sampled_from(["a", "A", "b", "B", "ü", "%", "_", "'"]), max_size=3
).map(lambda p: _quote("".join(p)))
_ops = st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="])
_states = st.lists(st.sampled_from(["UNKNOWN", "PENDING", "LIVE", "MARKED_FOR_DELETION", "DELETED"]), min_size=1,
                   max_size=3)


def _list(items: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(items | st.just("NULL"), min_size=1, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ")")


_atoms = st.one_of(
    st.tuples(_numbers, _ops, _numbers).map(" ".join),
    st.tuples(_strs, _ops, _strs).map(" ".join),
    st.tuples(_bools, st.sampled_from(["=", "!="]), _bools).map(" ".join),
    st.tuples(_ints, st.sampled_from(["+", "-", "*"]), _int_lit, _ops, _numbers).map(" ".join),
    st.tuples(_numbers, st.just("/"), _numbers | st.just("0"), _ops, _dbl_lit).map(" ".join),
    st.tuples(_ints, st.sampled_from(["IN", "NOT IN"]), _list(_int_lit)).map(" ".join),
    st.tuples(_strs, st.sampled_from(["IN", "NOT IN"]), _list(_str_lit)).map(" ".join),
    st.tuples(_numbers, st.sampled_from(["BETWEEN", "NOT BETWEEN"]), _numbers, st.just("AND"), _numbers).map(" ".join),
    st.tuples(_ints | _strs | _bools, st.sampled_from(["IS NULL", "IS NOT NULL"])).map(" ".join),
    st.tuples(_bools, st.sampled_from(["IS TRUE", "IS NOT FALSE", "IS UNKNOWN"])).map(" ".join),
    st.tuples(_strs, st.sampled_from(["LIKE", "NOT LIKE"]), _like).map(" ".join),
    st.tuples(st.sampled_from(["name", "LOWER(name)", "UPPER(name)"]), st.just("LIKE"), _like).map(" ".join),
    st.tuples(st.sampled_from(["state =", "state !="]), _states.map(lambda s: s[0])).map(" ".join),
    st.tuples(st.sampled_from(["state IN", "state NOT IN"]), _states.map(lambda s: "(" + ", ".join(s) + ")"))
    .map(" ".join),
    _bools,
)
filters = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        inner.map(lambda q: f"NOT ({q})"),
    ),
    max_leaves=5,
)


# -- the reference evaluator -----------------------------------------------------------------------------


def _and(values: list[Value]) -> Value:
    return False if False in values else None if None in values else True


def _or(values: list[Value]) -> Value:
    return True if True in values else None if None in values else False


def _not(value: Value) -> Value:
    return None if value is None else not value


def _like_match(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in ast.ascii_lower(pattern))
    return re.fullmatch(regex, ast.ascii_lower(value), re.DOTALL) is not None


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def evaluate(e: ast.Expr, node: Version) -> Value:
    """``e`` on ``node`` with MLMD's semantics (the node has every property ``e`` mentions)."""
    if isinstance(e, ast.Literal):
        return e.value
    if isinstance(e, ast.Column):
        return {"id": node.node_id, "name": node.name, "uri": node.uri, "state": node.state,
                "type": "DataSet", "type_id": TYPE_ID}[e.name]
    if isinstance(e, ast.PropertyRef):
        column, value = node.props[(ast.property_key(e.name), e.custom)]
        return value if column == e.field else None
    if isinstance(e, ast.Logical):
        values = [evaluate(o, node) for o in e.operands]
        return _and(values) if e.op == "AND" else _or(values)
    if isinstance(e, ast.Not):
        return _not(evaluate(e.operand, node))
    if isinstance(e, ast.EnumCompare):
        state = evaluate(e.target, node)
        if e.negated:
            return state is None or state not in e.values
        return None if state is None else state in e.values
    if isinstance(e, ast.IsCheck):
        value = evaluate(e.operand, node)
        found = value is None if e.what in ("NULL", "UNKNOWN") else value is (e.what == "TRUE")
        return found != e.negated
    if isinstance(e, ast.Compare):
        a, b = evaluate(e.left, node), evaluate(e.right, node)
        return None if a is None or b is None else _compare(e.op, a, b)
    if isinstance(e, ast.Like):
        a, p = evaluate(e.left, node), evaluate(e.pattern, node)
        if a is None or p is None:
            return None
        assert isinstance(a, str) and isinstance(p, str)
        return _like_match(a, p) != e.negated
    if isinstance(e, ast.InList):
        a = evaluate(e.left, node)
        items = [evaluate(i, node) for i in e.items]
        found: Value = None if a is None else True if a in items else None if None in items else False
        return _not(found) if e.negated else found
    if isinstance(e, ast.Between):
        a, lo, hi = (evaluate(x, node) for x in (e.value, e.low, e.high))
        inside = _and([None if a is None or lo is None else lo <= a, None if a is None or hi is None else a <= hi])
        return _not(inside) if e.negated else inside
    if isinstance(e, ast.Arith):
        a, b = evaluate(e.left, node), evaluate(e.right, node)
        if a is None or b is None:
            return None
        assert isinstance(a, (int, float)) and isinstance(b, (int, float))
        if e.op == "/":
            return None if b == 0 else a / b
        return a + b if e.op == "+" else a - b if e.op == "-" else a * b
    if isinstance(e, ast.Unary):
        a = evaluate(e.operand, node)
        assert a is None or isinstance(a, (int, float))
        return a if a is None or e.op == "+" else -a
    assert isinstance(e, ast.Func), e
    a = evaluate(e.args[0], node)
    if a is None:
        return None
    assert isinstance(a, str)
    return ast.ascii_lower(a) if e.name == "LOWER" else a.translate(_ASCII_UPPER)


_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def _mentioned(e: ast.Expr) -> set[tuple[str, bool]]:
    if isinstance(e, ast.PropertyRef):
        return {(ast.property_key(e.name), e.custom)}
    found: set[tuple[str, bool]] = set()
    for value in vars(e).values():
        for child in value if isinstance(value, tuple) else (value,):
            if isinstance(child, ast.Expr):
                found |= _mentioned(child)
    return found


def expected(query: str, versions: list[Version], position: int | None) -> list[int]:
    tree = parse_filter("artifact", query)
    needed = _mentioned(tree)
    out = []
    for v in versions:
        visible = v.valid_to is None if position is None else v.valid_from <= position and (
            v.valid_to is None or v.valid_to > position
        )
        if visible and needed <= v.props.keys() and evaluate(tree, v) is True:
            out.append(v.node_id)
    return sorted(out)


# -- properties ------------------------------------------------------------------------------------------


@PROFILE
@given(versions=histories(), queries=st.lists(filters, min_size=6, max_size=6), position=st.none() | st.integers(0, 6))
def test_duckdb_agrees_with_the_reference_evaluator(
    con: duckdb.DuckDBPyConnection, versions: list[Version], queries: list[str], position: int | None
) -> None:
    _load(con, versions)
    for query in queries:
        assert run(con, query, position) == expected(query, versions, position), query


_TEMPLATES = [
    "name = {lit}",
    "uri LIKE {lit} OR LOWER(name) IN ({lit}, 'x')",
    "custom_properties.`{ident}`.string_value = {lit}",
    "properties.`{ident}`.int_value > 1 AND name NOT BETWEEN {lit} AND {lit}",
    "name = {lit} AND contexts_c.name = {lit} AND events_e.type != INPUT",
]


@PROFILE
@given(text=st.text(max_size=12), template=st.sampled_from(_TEMPLATES))
def test_literals_reach_sql_only_as_parameters(con: duckdb.DuckDBPyConnection, text: str, template: str) -> None:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("`", "\\`").replace("\n", "\\n")
    escaped = escaped.replace("\r", "\\r")
    query = template.format(lit=f"'{escaped}'", ident=escaped or "p")
    sql, params = compile_filter("artifact", query, 3)
    placeholder_sql, _ = compile_filter("artifact", template.format(lit="'x'", ident="p"), 3)
    assert sql == placeholder_sql  # the SQL text does not depend on the literal
    assert text in params
    assert sql.count("?") == len(params)
    run(con, query, 3)  # and DuckDB binds it, whatever it holds
