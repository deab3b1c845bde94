"""Projector: decode, upcast, validate and apply ops into versioned DuckDB tables, exactly once."""
