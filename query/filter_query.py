"""MLMD's ``filter_query``: parse, type-check and compile to a DuckDB boolean fragment.

Entry points:

* :func:`parse_filter` -- text -> checked, typed AST (:mod:`mlmd_log.query.filter_ast`);
* :func:`compile_filter` -- text -> ``(sql, params)``: a boolean SQL fragment over the node version
  row ``v`` and its type row ``t``, every literal a ``?`` parameter.

The language and its semantics are those of ml-metadata 1.17.1 (a ZetaSQL
expression over the node's attributes, its properties and neighbourhood
aliases; docs/design.md, "MLMD's semantics"): operator precedence
OR < AND < NOT < comparison < + - < * / < unary, non-associative comparisons,
MLMD's enum rewrite (``state = LIVE``; ``!=``/``NOT IN`` keep NULLs), and
ZetaSQL's error messages, including positions. Enum errors win over syntax
errors because MLMD rewrites enums before parsing.
"""

from __future__ import annotations

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.query.filter_ast import (
    ENUMS,
    NODE_FIELDS,
    Arith,
    Between,
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
    Not,
    Part,
    PropertyRef,
    Ref,
    Ty,
    Unary,
    relation_for,
)
from mlmd_log.query.filter_compile import check, compile_expr
from mlmd_log.query.filter_lexer import Lexer, Tok, Token, filter_error, tokenize

__all__ = ["compile_filter", "parse_filter"]

_INT64_MAX = 2**63 - 1
_COMPARISONS = ("=", "!=", "<>", "<", "<=", ">", ">=")
_ENUM_WORD = (Tok.IDENT, Tok.KEYWORD, Tok.INT, Tok.FLOAT)


def _is(tok: Token, kind: Tok, value: str) -> bool:
    return tok.kind is kind and tok.value == value


def _closing(tokens: list[Token], i: int) -> int:
    """Index of the ``)`` matching the ``(`` at ``i`` (the EOF token's index if unclosed)."""
    depth = 0
    for j in range(i, len(tokens)):
        if _is(tokens[j], Tok.OP, "("):
            depth += 1
        elif _is(tokens[j], Tok.OP, ")"):
            depth -= 1
            if depth == 0:
                return j
    return len(tokens) - 1


def _enum_column(kind: str, tokens: list[Token], i: int) -> tuple[str, int] | None:
    """``(enum, index after it)`` when ``tokens[i:]`` start an enum column as MLMD's rewrite sees it.

    MLMD rewrites enum names with a case-sensitive regex before parsing: the column must be spelled
    exactly (``state``, ``last_known_state``, ``events_X.type``, ``artifacts_X.state``, ...), with the
    alias touching its dot.
    """
    tok = tokens[i]
    if tok.kind is not Tok.IDENT or tok.quoted or (i > 0 and _is(tokens[i - 1], Tok.OP, ".")):
        return None
    if _is(tokens[i + 1], Tok.OP, "."):
        field_tok = tokens[i + 2]
        rel = relation_for(kind, tok.text) if tokens[i + 1].pos.offset == tok.end else None
        if rel is None or field_tok.kind is not Tok.IDENT or field_tok.quoted:
            return None
        field = rel.fields.get(field_tok.text)
        return (field.enum, i + 3) if field is not None and field.enum else None
    node_field = NODE_FIELDS[kind].get(tok.text)
    return (node_field.enum, i + 1) if node_field is not None and node_field.enum else None


def _enum_operands(tokens: list[Token], j: int, text: str) -> tuple[bool, list[str], int] | None:
    """After an enum column at ``j``: ``(negated, words, index after)`` for ``= W``, ``!= W``,
    ``[NOT] IN (W, ...)``; None where MLMD leaves the predicate alone (``<>``, ``<``, ``= -1``, ...).
    A word is whatever MLMD's rewrite would look up, e.g. ``2`` or ``(LIVE)``, so it may be invalid."""
    tok = tokens[j]
    if tok.kind is Tok.OP and tok.value in ("=", "!="):
        value = tokens[j + 1]
        if value.kind in _ENUM_WORD:
            return tok.value == "!=", [value.text], j + 2
        if _is(value, Tok.OP, "("):
            close = _closing(tokens, j + 1)
            return tok.value == "!=", [text[value.pos.offset : tokens[close].end]], close + 1
        return None
    negated = _is(tok, Tok.KEYWORD, "NOT") and _is(tokens[j + 1], Tok.KEYWORD, "IN")
    if negated:
        j += 1
    if _is(tokens[j], Tok.KEYWORD, "IN") and _is(tokens[j + 1], Tok.OP, "("):
        close = _closing(tokens, j + 1)
        body = text[tokens[j + 1].end : tokens[close].pos.offset]
        return negated, [word.strip() for word in body.split(",")], close + 1
    return None


def _check_enums(kind: str, tokens: list[Token], text: str) -> None:
    """MLMD's enum rewrite runs before parsing: its "Unsupported enum value" error wins over any other."""
    for i in range(len(tokens) - 1):
        column = _enum_column(kind, tokens, i)
        operands = _enum_operands(tokens, column[1], text) if column else None
        if column is None or operands is None:
            continue
        for word in operands[1]:
            if word not in ENUMS[column[0]]:
                raise filter_error(f"Unsupported enum value specified in the query: {word}")


class _Parser:
    """Recursive descent over the token list; one method per precedence level."""

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.lexer: Lexer
        self.lexer, self.tokens = tokenize(text)
        self.i = 0
        _check_enums(kind, self.tokens, text)

    # -- token helpers --

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def is_kw(self, word: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind is Tok.KEYWORD and tok.value == word

    def is_op(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind is Tok.OP and tok.value in ops

    def syntax(self, message: str, tok: Token) -> InvalidArgumentError:
        err: InvalidArgumentError = filter_error(f"Syntax error: {message}", tok.pos)
        return err

    def unexpected(self, tok: Token) -> InvalidArgumentError:
        if tok.kind is Tok.EOF:
            return self.syntax("Unexpected end of expression", tok)
        if tok.kind is Tok.KEYWORD:
            return self.syntax(f"Unexpected keyword {tok.value}", tok)
        if tok.kind is Tok.OP:
            return self.syntax(f'Unexpected "{tok.text}"', tok)
        return self.syntax(f"Unexpected {tok.describe()}", tok)

    def expect_op(self, op: str, message: str) -> Token:
        if not self.is_op(op):
            raise self.syntax(f"{message} but got {self.peek().describe()}", self.peek())
        return self.advance()

    # -- grammar --

    def parse(self) -> Expr:
        expr = self.or_()
        if self.peek().kind is not Tok.EOF:
            raise self.syntax(f"Expected end of input but got {self.peek().describe()}", self.peek())
        return expr

    def or_(self) -> Expr:
        return self._logical("OR", self.and_)

    def and_(self) -> Expr:
        return self._logical("AND", self.not_)

    def _logical(self, op: str, operand: object) -> Expr:
        assert callable(operand)
        items = [operand()]
        while self.is_kw(op):
            self.advance()
            items.append(operand())
        return items[0] if len(items) == 1 else Logical(op=op, operands=tuple(items), pos=items[0].pos)

    def not_(self) -> Expr:
        if self.is_kw("NOT"):
            tok = self.advance()
            return Not(operand=self.not_(), pos=tok.pos)
        return self.comparison()

    def comparison(self) -> Expr:
        column = _enum_column(self.kind, self.tokens, self.i)
        operands = _enum_operands(self.tokens, column[1], self.lexer.text) if column else None
        left = self.additive()
        node: Expr
        if column is not None and operands is not None and self.i == column[1]:
            negated, words, self.i = operands
            values = tuple(ENUMS[column[0]][w] for w in words)  # all valid: _check_enums ran
            node = EnumCompare(target=left, negated=negated, values=values, pos=left.pos)
            return self.unchained(node)
        tok = self.peek()
        negated = self.is_kw("NOT") and any(self.is_kw(w, 1) for w in ("LIKE", "IN", "BETWEEN"))
        if negated:
            self.advance()
            tok = self.peek()
        if tok.kind is Tok.OP and tok.value in _COMPARISONS:
            self.advance()
            op = "!=" if tok.value == "<>" else str(tok.value)
            node = Compare(op=op, left=left, right=self.additive(), pos=left.pos)
        elif self.is_kw("LIKE"):
            self.advance()
            node = Like(negated=negated, left=left, pattern=self.additive(), pos=left.pos)
        elif self.is_kw("IN"):
            self.advance()
            if not self.is_op("("):
                raise self.syntax(f'Expected "(" or keyword UNNEST but got {self.peek().describe()}', self.peek())
            self.advance()
            items = [self.or_()]
            while self.is_op(","):
                self.advance()
                items.append(self.or_())
            self.expect_op(")", 'Expected ")" or ","')
            node = InList(negated=negated, left=left, items=tuple(items), op_pos=tok.pos, pos=left.pos)
        elif self.is_kw("BETWEEN"):
            self.advance()
            low = self.additive()
            if not self.is_kw("AND"):
                if self.peek().kind is Tok.EOF:
                    raise self.unexpected(self.peek())
                raise self.syntax(f"Expected keyword AND but got {self.peek().describe()}", self.peek())
            self.advance()
            high = self.additive()
            node = Between(negated=negated, value=left, low=low, high=high, op_pos=tok.pos, pos=left.pos)
        elif self.is_kw("IS"):
            node = self.is_check(left)
        else:
            return left
        return self.unchained(node)

    def unchained(self, node: Expr) -> Expr:
        """Comparisons do not chain: ``a = b = c`` and ``a IN (b) = c`` are syntax errors."""
        nxt = self.peek()
        if (nxt.kind is Tok.OP and nxt.value in _COMPARISONS) or any(
            self.is_kw(w) for w in ("LIKE", "IN", "BETWEEN", "IS")
        ):
            if isinstance(node, Compare):
                raise self.unexpected(nxt)
            raise self.syntax("Expression to the left of comparison must be parenthesized", nxt)
        return node

    def is_check(self, left: Expr) -> Expr:
        self.advance()
        negated = self.is_kw("NOT")
        if negated:
            self.advance()
        tok = self.peek()
        if tok.kind is Tok.KEYWORD and tok.value in ("NULL", "TRUE", "FALSE"):
            what = str(tok.value)
        elif tok.kind is Tok.IDENT and not tok.quoted and str(tok.value).upper() == "UNKNOWN":
            what = "UNKNOWN"
        else:
            raise self.syntax(
                "Expected keyword FALSE or keyword NULL or keyword TRUE or keyword UNKNOWN but got "
                + tok.describe(),
                tok,
            )
        self.advance()
        return IsCheck(negated=negated, what=what, operand=left, pos=left.pos)

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.is_op("+", "-"):
            op = str(self.advance().value)
            left = Arith(op=op, left=left, right=self.multiplicative(), pos=left.pos)
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.is_op("*", "/"):
            op = str(self.advance().value)
            left = Arith(op=op, left=left, right=self.unary(), pos=left.pos)
        return left

    def unary(self) -> Expr:
        if self.is_op("-", "+"):
            tok = self.advance()
            nxt = self.peek()
            if tok.value == "-" and nxt.kind in (Tok.INT, Tok.FLOAT):
                self.advance()
                assert isinstance(nxt.value, (int, float))
                value = -nxt.value
                if nxt.kind is Tok.INT and value < -_INT64_MAX - 1:
                    raise filter_error(f"Invalid integer literal: -{nxt.text}", tok.pos)
                return Literal(value=value, ty=Ty.INT64 if nxt.kind is Tok.INT else Ty.DOUBLE, pos=tok.pos)
            return Unary(op=str(tok.value), operand=self.unary(), pos=tok.pos)
        return self.primary()

    def primary(self) -> Expr:
        tok = self.peek()
        if tok.kind is Tok.INT:
            self.advance()
            assert isinstance(tok.value, int)
            if tok.value > _INT64_MAX:
                raise filter_error(f"Invalid integer literal: {tok.text}", tok.pos)
            return Literal(value=tok.value, ty=Ty.INT64, pos=tok.pos)
        if tok.kind in (Tok.FLOAT, Tok.STRING):
            self.advance()
            ty = Ty.DOUBLE if tok.kind is Tok.FLOAT else Ty.STRING
            return Literal(value=tok.value, ty=ty, pos=tok.pos)
        if tok.kind is Tok.KEYWORD and tok.value in ("TRUE", "FALSE", "NULL"):
            self.advance()
            if tok.value == "NULL":
                return Literal(value=None, ty=Ty.NULL, pos=tok.pos)
            return Literal(value=tok.value == "TRUE", ty=Ty.BOOL, pos=tok.pos)
        if tok.prop is not None:
            self.advance()
            custom, name, field = tok.prop
            prop: Expr = PropertyRef(custom=custom, name=name, field=field, pos=tok.pos)
            while self.is_op("."):
                self.advance()
                prop = FieldAccess(base=prop, field=self.part(), pos=tok.pos)
            return prop
        if tok.kind is Tok.IDENT:
            if not tok.quoted and self.peek(1).kind is Tok.OP and self.peek(1).value == "(":
                return self.call()
            self.advance()
            parts = [Part(str(tok.value), tok.pos, tok.quoted)]
            adjacent = self.is_op(".") and self.peek().pos.offset == tok.end
            while self.is_op("."):
                self.advance()
                parts.append(self.part())
            return Ref(parts=tuple(parts), adjacent=adjacent, pos=tok.pos)
        if tok.kind is Tok.OP and tok.value == "(":
            self.advance()
            inner_tok = self.peek()
            inner = self.or_()
            if not self.is_op(")"):
                raise self.syntax(
                    "Parenthesized expression cannot be parsed as an expression, struct constructor, or subquery",
                    inner_tok,
                )
            self.advance()
            return inner
        raise self.unexpected(tok)

    def part(self) -> Part:
        tok = self.peek()
        if tok.prop is not None:  # MLMD rewrites `properties.x.y_value` anywhere, even after a dot
            self.advance()
            custom, name, _ = tok.prop
            return Part(f"{'custom_' if custom else ''}properties_{name}", tok.pos)
        if tok.kind in (Tok.IDENT, Tok.KEYWORD):
            self.advance()
            return Part(tok.text if tok.kind is Tok.KEYWORD else str(tok.value), tok.pos, tok.quoted)
        raise self.unexpected(tok)

    def call(self) -> Expr:
        name_tok = self.advance()
        self.advance()  # "("
        args: list[Expr] = []
        if not self.is_op(")"):
            args.append(self.or_())
            while self.is_op(","):
                self.advance()
                args.append(self.or_())
        self.expect_op(")", 'Expected ")"')
        return Func(name=str(name_tok.value), args=tuple(args), pos=name_tok.pos)


def parse_filter(kind: str, text: str) -> Expr:
    """Parse and type-check ``text`` for nodes of ``kind`` ("artifact", "execution" or "context").

    Returns the typed AST (of type BOOL). Raises ``InvalidArgumentError`` with MLMD's message
    (prefix ``Invalid `filter_query`: ``) for syntax, name and type errors.
    """
    if kind not in NODE_FIELDS:
        raise ValueError(f"unknown node kind {kind!r}")
    try:
        expr = check(kind, _Parser(kind, text).parse())
    except RecursionError:
        raise _too_deep() from None
    if expr.ty is not Ty.BOOL:
        raise filter_error(f"Given query string is not a valid boolean expression: {text}")
    return expr


def compile_filter(kind: str, text: str, position: int | None) -> tuple[str, list[object]]:
    """``filter_query`` ``text`` as an SQL boolean fragment over ``v`` (the node version row) and ``t``
    (its type row), with its parameters; ``position`` is the as-of log position (None: current state).

    Property and neighbourhood references become one existential sub-select joining each mentioned
    property and alias once (MLMD's inner joins: a node lacking a mentioned property never matches).
    """
    expr = parse_filter(kind, text)
    try:
        compiled: tuple[str, list[object]] = compile_expr(kind, expr, position)
    except RecursionError:
        raise _too_deep() from None
    return compiled


def _too_deep() -> InvalidArgumentError:
    err: InvalidArgumentError = filter_error("Syntax error: Expression is nested too deeply")
    return err

