"""Rendering results for the CLI: one ``--format`` option (table, json, csv) for every command."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from google.protobuf import json_format

FORMATS = ("table", "json", "csv")


def node_row(node: Any) -> dict[str, Any]:
    """A flat dict for an artifact, execution or context (properties as JSON text)."""
    row: dict[str, Any] = {"id": node.id, "type": node.type, "name": node.name if node.HasField("name") else None}
    for field in ("uri", "state", "last_known_state"):
        if field in node.DESCRIPTOR.fields_by_name:
            value = getattr(node, field)
            if field != "uri":
                enum = node.DESCRIPTOR.fields_by_name[field].enum_type
                value = enum.values_by_number[value].name if node.HasField(field) else None
            row[field] = value
    for field in ("properties", "custom_properties"):
        values = {k: _value(v) for k, v in sorted(getattr(node, field).items())}
        row[field] = json.dumps(values, default=str) if values else ""
    return row


def _value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which in ("struct_value", "proto_value"):
        return json_format.MessageToDict(getattr(value, which))
    return getattr(value, which)


def render(rows: pa.Table | Sequence[dict[str, Any]], fmt: str) -> str:
    """Rows as an aligned text table, JSON lines, or CSV."""
    records = rows.to_pylist() if isinstance(rows, pa.Table) else list(rows)
    columns = rows.column_names if isinstance(rows, pa.Table) else (list(records[0]) if records else [])
    if fmt == "json":
        return "\n".join(json.dumps(r, default=_json_default) for r in records)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue().rstrip("\n")
    if not records:
        return "(no rows)"
    text = [[_cell(r.get(c)) for c in columns] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in text)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in text]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
