"""MLMD's ``filter_query`` language: lexer, AST, parser with checker, and compiler to a DuckDB fragment.

:func:`compile_filter` (text -> ``(sql, params)``) and :func:`parse_filter`
(text -> checked AST) are the entry points; see :mod:`.parser`.
"""

from mlmd_log.query.filter.parser import compile_filter, parse_filter

__all__ = ["compile_filter", "parse_filter"]
