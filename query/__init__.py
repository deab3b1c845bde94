"""Query: MLMD's read API, filter_query, lineage, as-of and SQL over the DuckDB projection."""
