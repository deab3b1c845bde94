"""Tokens of MLMD's ``filter_query`` (a ZetaSQL expression), with ZetaSQL-style syntax errors.

Besides ZetaSQL's tokens (identifiers, back-quoted identifiers, keywords,
integer/float/string literals with escapes, operators, ``--``/``#``/``/* */``
comments) there is one MLMD token: a property path
``[custom_]properties.NAME.(int|double|string|bool)_value`` written without
spaces, NAME being word characters or back-quoted. MLMD finds these with a
regex before parsing, so this lexer does the same at the start of a word.

Every error is an ``InvalidArgumentError`` whose message starts with
``Invalid `filter_query`: `` and ends with ``[at line:col]``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from mlmd_log.errors import InvalidArgumentError
from mlmd_log.query.filter.ast import Pos

PREFIX: Final = "Invalid `filter_query`: "

#: ZetaSQL's reserved keywords: never identifiers; reported as ``keyword X``.
RESERVED: Final = frozenset(
    ["ALL", "AND", "ANY", "ARRAY", "AS", "ASC", "ASSERT_ROWS_MODIFIED", "AT", "BETWEEN", "BY", "CASE", "CAST", "COLLATE", "CONTAINS", "CREATE", "CROSS", "CUBE", "CURRENT", "DEFAULT", "DEFINE", "DESC", "DISTINCT", "ELSE", "END", "ENUM", "ESCAPE", "EXCEPT", "EXCLUDE", "EXISTS", "EXTRACT", "FALSE", "FETCH", "FOLLOWING", "FOR", "FROM", "FULL", "GROUP", "GROUPING", "GROUPS", "HASH", "HAVING", "IF", "IGNORE", "IN", "INNER", "INTERSECT", "INTERVAL", "INTO", "IS", "JOIN", "LATERAL", "LEFT", "LIKE", "LIMIT", "LOOKUP", "MERGE", "NATURAL", "NEW", "NO", "NOT", "NULL", "NULLS", "OF", "ON", "OR", "ORDER", "OUTER", "OVER", "PARTITION", "PRECEDING", "PROTO", "QUALIFY", "RANGE", "RECURSIVE", "RESPECT", "RIGHT", "ROLLUP", "ROWS", "SELECT", "SET", "SOME", "STRUCT", "TABLESAMPLE", "THEN", "TO", "TREAT", "TRUE", "UNBOUNDED", "UNION", "UNNEST", "USING", "WHEN", "WHERE", "WINDOW", "WITH", "WITHIN"]
)

_OPERATORS: Final = (
    "<>", "!=", "<=", ">=", "<<", ">>", "||", "=", "<", ">", "+", "-", "*", "/", "(", ")", ",", ".",
    "|", "&", "^", "~", "[", "]", "{", "}", ";", ":", "?",
)
_WORD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROPERTY: Final = re.compile(
    r"(custom_)?properties\.(?:([0-9A-Za-z_]+)|`((?:[^`\\]|\\.)*)`)\.(int|double|string|bool)_value"
    r"(?![0-9A-Za-z_])",
    re.DOTALL,
)
_NUMBER: Final = re.compile(
    r"0[xX][0-9A-Fa-f]+|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|[0-9]+"
)
_SIMPLE_ESCAPES: Final = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "?": "?", '"': '"', "'": "'", "`": "`",
}
_WHITESPACE: Final = " \t\n\r\f\v"


class Tok(enum.Enum):
    IDENT = "identifier"
    KEYWORD = "keyword"
    INT = "integer literal"
    FLOAT = "floating point literal"
    STRING = "string literal"
    PROPERTY = "property"
    OP = "operator"
    EOF = "end of input"


@dataclass(frozen=True)
class Token:
    """One token: its kind, its source ``text``, its decoded ``value`` and where it starts and ends.

    ``value`` is the name for identifiers (``quoted`` when back-quoted), the upper-case word for
    keywords, an int/float/str for literals, the operator text; a property path has ``prop``:
    ``(custom, name, field)``.
    """

    kind: Tok
    text: str
    value: int | float | str | None
    pos: Pos
    end: int
    quoted: bool = False
    prop: tuple[bool, str, str] | None = None

    def describe(self) -> str:
        """The token as ZetaSQL names it in "Expected ... but got ..." messages."""
        if self.kind is Tok.EOF:
            return "end of expression"
        if self.kind is Tok.KEYWORD:
            return f"keyword {self.value}"
        if self.kind is Tok.OP:
            return f'"{self.text}"'
        if self.kind is Tok.STRING:
            return f"string literal {self.text}"
        if self.prop is not None:
            custom, name, _ = self.prop
            return f'identifier "{"custom_" if custom else ""}properties_{name}"'
        if self.kind is Tok.IDENT:
            return f'identifier "{self.value}"'
        return f'{self.kind.value} "{self.text}"'


def filter_error(message: str, pos: Pos | None = None) -> InvalidArgumentError:
    """An ``InvalidArgumentError`` in MLMD's format for filter_query problems."""
    where = f" [at {pos}]" if pos is not None else ""
    return InvalidArgumentError(f"{PREFIX}{message}{where}")


class Lexer:
    """Splits a query into tokens; ``pos(offset)`` maps offsets to line:column for error messages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._line_starts = [0]
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\r" and text[i + 1 : i + 2] == "\n":
                i += 1
            if c in "\r\n":
                self._line_starts.append(i + 1)
            i += 1

    def pos(self, offset: int) -> Pos:
        line = 0
        lo, hi = 0, len(self._line_starts) - 1
        while lo <= hi:  # last line start <= offset
            mid = (lo + hi) // 2
            if self._line_starts[mid] <= offset:
                line, lo = mid, mid + 1
            else:
                hi = mid - 1
        return Pos(line + 1, offset - self._line_starts[line] + 1, offset)

    def syntax(self, message: str, offset: int) -> InvalidArgumentError:
        return filter_error(f"Syntax error: {message}", self.pos(offset))

    def tokens(self) -> list[Token]:
        """All tokens, ending with one EOF token placed at the end of the text."""
        out: list[Token] = []
        text, i, n = self.text, 0, len(self.text)
        while True:
            i = self._skip_space(i)
            if i >= n:
                out.append(Token(Tok.EOF, "", None, self.pos(n), n))
                return out
            token = self._token(i)
            out.append(token)
            i = token.end
            if token.kind in (Tok.INT, Tok.FLOAT) and i < n and (text[i].isalnum() or text[i] == "_"):
                raise self.syntax("Missing whitespace between literal and alias", i)

    def _skip_space(self, i: int) -> int:
        text, n = self.text, len(self.text)
        while i < n:
            if text[i] in _WHITESPACE:
                i += 1
            elif text.startswith("--", i) or text[i] == "#":
                while i < n and text[i] not in "\r\n":
                    i += 1
            elif text.startswith("/*", i):
                close = text.find("*/", i + 2)
                if close < 0:
                    raise self.syntax("Unclosed comment", i)
                i = close + 2
            else:
                return i
        return i

    def _token(self, i: int) -> Token:
        text = self.text
        c = text[i]
        if c.isascii() and (c.isalpha() or c == "_"):
            return self._word(i)
        if c.isdigit() or (c == "." and text[i + 1 : i + 2].isdigit()):
            return self._number(i)
        if c in "'\"":
            return self._string(i, i, raw=False)
        if c == "`":
            name, end = self._quoted(i, "`", raw=False, what="identifier")
            if not name:
                raise self.syntax("Invalid empty identifier", i)
            return Token(Tok.IDENT, text[i:end], name, self.pos(i), end, quoted=True)
        if c == "@":
            word = _WORD.match(text, i + 1)
            name = word.group() if word else ""
            raise filter_error(f"Query parameter '{name}' not found", self.pos(i))
        for op in _OPERATORS:
            if text.startswith(op, i):
                return Token(Tok.OP, op, op, self.pos(i), i + len(op))
        first = c.encode("utf-8", "surrogatepass")[0]
        shown = c if c.isascii() and c.isprintable() else f"\\{first:03o}"
        raise self.syntax(f'Illegal input character "{shown}"', i)

    def _word(self, i: int) -> Token:
        text = self.text
        prop = _PROPERTY.match(text, i) if text.startswith(("properties.", "custom_properties."), i) else None
        if prop is not None:
            custom, plain, quoted, field = prop.groups()
            if quoted is not None:
                if not quoted:
                    raise self.syntax("Invalid empty identifier", prop.start(3) - 1)
                name = self._unescape(quoted, prop.start(3), raw=False)
            else:
                name = plain
            path = (custom is not None, name, f"{field}_value")
            return Token(Tok.PROPERTY, prop.group(), None, self.pos(i), prop.end(), prop=path)
        word = _WORD.match(text, i)
        assert word is not None
        w = word.group()
        if w.upper() in RESERVED:
            return Token(Tok.KEYWORD, w, w.upper(), self.pos(i), word.end())
        prefix = w.lower()
        nxt = text[word.end() : word.end() + 1]
        if prefix in ("r", "b", "rb", "br") and nxt in ("'", '"'):
            if "b" in prefix:
                raise self.syntax("Bytes literals are not supported in filter_query", i)
            return self._string(i, word.end(), raw=True)
        return Token(Tok.IDENT, w, w, self.pos(i), word.end())

    def _number(self, i: int) -> Token:
        match = _NUMBER.match(self.text, i)
        assert match is not None
        t = match.group()
        if t[:2].lower() == "0x":
            return Token(Tok.INT, t, int(t, 16), self.pos(i), match.end())
        if t.isdigit():
            return Token(Tok.INT, t, int(t), self.pos(i), match.end())
        value = float(t)
        if value in (float("inf"), float("-inf")):
            raise filter_error(f"Invalid floating point literal: {t}", self.pos(i))
        return Token(Tok.FLOAT, t, value, self.pos(i), match.end())

    def _string(self, start: int, quote_at: int, raw: bool) -> Token:
        value, end = self._quoted(quote_at, self.text[quote_at], raw=raw, what="string")
        return Token(Tok.STRING, self.text[start:end], value, self.pos(start), end)

    def _quoted(self, i: int, quote: str, raw: bool, what: str) -> tuple[str, int]:
        """Decode a quoted literal starting at ``i`` (triple quotes allowed for strings); (value, end)."""
        text, n = self.text, len(self.text)
        delim = quote * 3 if what == "string" and text.startswith(quote * 3, i) else quote
        j = i + len(delim)
        body_start = j
        while j < n:
            if text.startswith(delim, j):
                return self._unescape(text[body_start:j], body_start, raw), j + len(delim)
            c = text[j]
            if c == "\\":
                j += 2
                continue
            if c in "\r\n" and len(delim) == 1:
                break
            j += 1
        raise self.syntax(f"Unclosed {what} literal", i)

    def _unescape(self, body: str, offset: int, raw: bool) -> str:
        """ZetaSQL escapes: \\n \\t ..., \\ooo, \\xhh, \\uhhhh, \\Uhhhhhhhh; the result must be valid UTF-8."""
        if raw:
            return body
        out = bytearray()
        i, n = 0, len(body)
        while i < n:
            c = body[i]
            if c != "\\":
                out += c.encode("utf-8", "surrogatepass")
                i += 1
                continue
            e = body[i + 1] if i + 1 < n else ""
            if e in _SIMPLE_ESCAPES:
                out += _SIMPLE_ESCAPES[e].encode()
                i += 2
            elif e in "01234567" and e and re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
                code = int(body[i + 1 : i + 4], 8)
                if code > 0xFF:
                    raise self.syntax(f"Illegal escape sequence: {body[i:i + 4]}", offset + i)
                out.append(code)
                i += 4
            elif e in ("x", "X") and re.fullmatch(r"[0-9A-Fa-f]{2}", body[i + 2 : i + 4]):
                out.append(int(body[i + 2 : i + 4], 16))
                i += 4
            elif e in ("u", "U") and re.fullmatch(
                "[0-9A-Fa-f]{4}" if e == "u" else "[0-9A-Fa-f]{8}", body[i + 2 : i + (6 if e == "u" else 10)]
            ):
                width = 4 if e == "u" else 8
                code = int(body[i + 2 : i + 2 + width], 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise self.syntax(f"Illegal escape sequence: {body[i:i + 2 + width]}", offset + i)
                out += chr(code).encode("utf-8")
                i += 2 + width
            else:
                raise self.syntax(f"Illegal escape sequence: \\{e}", offset + i)
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            raise self.syntax("Structurally invalid UTF8 string", offset) from None


def tokenize(text: str) -> tuple[Lexer, list[Token]]:
    """The lexer (for positions) and the tokens of ``text``."""
    lexer = Lexer(text)
    return lexer, lexer.tokens()
