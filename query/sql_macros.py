"""Table macros for analysts inside ``sql()``: lineage walks and every current view as of a log position.

The macros are DuckDB TEMP macros written here as fixed SQL text; a user's
values reach them only as macro arguments (literals or ``?`` parameters),
never as text spliced into a macro body. They are created on the cursor that
runs the user's query, inside its transaction, which is always rolled back:
nothing is ever written to the database and nothing outlives the query.
Creating a macro costs 0.5 to 3 ms, so only the macros whose names occur
in the query text are created (a superset check: a name in a comment or a
string creates a macro that is simply not used).

* ``upstream(node_id, max_hops[, as_of := P])`` and ``downstream(...)``:
  ``node_id`` is an artifact id or an execution id (ids are unique across node
  kinds, ADR 0001). Rows ``(kind, id, hops)``: every artifact and execution
  reachable through events within ``max_hops`` hops, with the fewest hops it
  takes (MLMD's counting: an execution is one hop from its input and output
  artifacts), the starting node included with ``hops = 0``. Upstream follows
  events towards what a node came from (artifact -> the execution that output
  it -> that execution's inputs); downstream towards what came from it. An id
  that is no artifact or execution (at ``as_of``) gives no rows.
* ``<view>_as_of(P)`` for every current view (``artifacts``, ``executions``,
  ``contexts``, their ``*_properties``, ``types``, ``type_properties``,
  ``events``, ``attributions``, ``associations``, ``parent_contexts``): the
  view's columns, with the rows that were current at log position ``P``
  (inclusive). A position beyond the projected log is an error, as for
  ``as_of`` in the Python API: the projection cannot answer for it yet.
* ``position_at(t)``: the log position a time names (the last position whose
  log time, the running maximum of record times, is <= ``t``; -1 before the
  first op), so ``artifacts_as_of(position_at(TIMESTAMPTZ '...'))`` reads by time.
"""

# ruff: noqa: S608  # macro bodies are built at import from fixed fragments and allow-listed names only

from __future__ import annotations

import re
from typing import Final

import duckdb

from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd

#: A position no log reaches: ``as_of := NULL`` (the current state) compares against it.
_NOW: Final = 1 << 62

#: Rows of table ``t`` valid at ``log_position`` (``log_position`` never names a column, see below).
_VISIBLE: Final = "t.valid_from <= log_position AND (t.valid_to IS NULL OR t.valid_to > log_position)"

#: Refuses a position the projection has not reached; ``error()`` runs once, on the one checkpoint row.
_GUARD: Final = (
    "(SELECT CASE WHEN log_position > c.position THEN error('as-of position ' || log_position::VARCHAR || "
    "' is beyond the projected log (checkpoint ' || c.position::VARCHAR || ')') END FROM checkpoint c) IS NULL"
)

# Macro parameters are substituted by name anywhere in the body, so they are named to match no column:
# ``log_position``, ``node_id``, ``max_hops``, ``as_of``, ``at_time``.


def _node_view(kind: str) -> str:
    return (
        f"SELECT t.* EXCLUDE (valid_to) FROM {kind}_versions t WHERE {_VISIBLE} AND {_GUARD}"
    )


def _property_view(kind: str) -> str:
    return (
        f"SELECT p.* FROM {kind}_property_versions p "
        f"JOIN {kind}_versions t ON t.id = p.{kind}_id AND t.valid_from = p.valid_from "
        f"WHERE {_VISIBLE} AND {_GUARD}"
    )


def _relation_view(table: str, columns: str) -> str:
    return f"SELECT {columns} FROM {table}_versions t WHERE {_VISIBLE} AND {_GUARD}"


#: ``<view>_as_of(log_position)``: the body of each, over the versioned table behind the view.
_AS_OF: Final[dict[str, str]] = {
    "artifacts": _node_view("artifact"),
    "executions": _node_view("execution"),
    "contexts": _node_view("context"),
    "artifact_properties": _property_view("artifact"),
    "execution_properties": _property_view("execution"),
    "context_properties": _property_view("context"),
    "types": _node_view("type"),
    "type_properties": (
        "SELECT p.* FROM type_property_versions p JOIN type_versions t ON t.id = p.type_id "
        f"AND t.valid_from = p.valid_from WHERE {_VISIBLE} AND {_GUARD}"
    ),
    "events": _relation_view("event", "t.* EXCLUDE (valid_to)"),
    "attributions": _relation_view("attribution", "t.artifact_id, t.context_id, t.valid_from"),
    "associations": _relation_view("association", "t.execution_id, t.context_id, t.valid_from"),
    "parent_contexts": _relation_view("parent_context", "t.child_id, t.parent_id, t.valid_from"),
}

#: Event types that make the artifact an output of the execution, the rest being inputs (as lineage.py walks).
_OUTPUT_TYPES: Final = (
    mlmd.Event.OUTPUT, mlmd.Event.DECLARED_OUTPUT, mlmd.Event.INTERNAL_OUTPUT, mlmd.Event.PENDING_OUTPUT,
)
_OUTPUTS: Final = ", ".join(str(int(t)) for t in _OUTPUT_TYPES)


def _walk(upstream: bool) -> str:
    """One recursive query: moves are (from kind, from id, to kind, to id) across events valid at ``as_of``."""
    # Upstream: an artifact moves to the execution that output it, an execution to its inputs; downstream
    # the other way round.
    artifact_to_execution = "e.type IN ({})" if upstream else "e.type NOT IN ({})"
    execution_to_artifact = "e.type NOT IN ({})" if upstream else "e.type IN ({})"
    visible = "e.valid_from <= coalesce(as_of, {now}) AND (e.valid_to IS NULL OR e.valid_to > coalesce(as_of, {now}))"
    visible = visible.format(now=_NOW)
    guard = _GUARD.replace("log_position", "coalesce(as_of, -1)")
    return f"""WITH RECURSIVE
moves(fk, fid, tk, tid) AS (
    SELECT 'artifact', e.artifact_id, 'execution', e.execution_id FROM event_versions e
    WHERE {artifact_to_execution.format(_OUTPUTS)} AND {visible}
    UNION ALL
    SELECT 'execution', e.execution_id, 'artifact', e.artifact_id FROM event_versions e
    WHERE {execution_to_artifact.format(_OUTPUTS)} AND {visible}
),
start(k, id) AS (
    SELECT 'artifact', v.id FROM artifact_versions v WHERE v.id = node_id
        AND v.valid_from <= coalesce(as_of, {_NOW}) AND (v.valid_to IS NULL OR v.valid_to > coalesce(as_of, {_NOW}))
    UNION ALL
    SELECT 'execution', v.id FROM execution_versions v WHERE v.id = node_id
        AND v.valid_from <= coalesce(as_of, {_NOW}) AND (v.valid_to IS NULL OR v.valid_to > coalesce(as_of, {_NOW}))
),
walk(k, id, hops) AS (
    SELECT k, id, 0 FROM start WHERE {guard}
    UNION
    SELECT m.tk, m.tid, w.hops + 1 FROM walk w JOIN moves m ON m.fk = w.k AND m.fid = w.id
    WHERE w.hops < max_hops
)
SELECT k AS kind, id, CAST(min(hops) AS INTEGER) AS hops FROM walk GROUP BY k, id ORDER BY 3, 1, 2"""


#: Every macro by name: (its CREATE statement's head, its body).
MACROS: Final[dict[str, str]] = {
    **{
        f"{view}_as_of": f"CREATE TEMP MACRO {view}_as_of(log_position) AS TABLE {body}"
        for view, body in _AS_OF.items()
    },
    "upstream": f"CREATE TEMP MACRO upstream(node_id, max_hops, as_of := NULL) AS TABLE {_walk(True)}",
    "downstream": f"CREATE TEMP MACRO downstream(node_id, max_hops, as_of := NULL) AS TABLE {_walk(False)}",
    "position_at": (
        "CREATE TEMP MACRO position_at(at_time) AS (SELECT coalesce(max(a.position), -1) FROM op_archive a "
        "WHERE a.log_time_ms <= epoch_ms(CAST(at_time AS TIMESTAMPTZ)))"
    ),
}

_NAMES: Final = re.compile(r"\b(" + "|".join(sorted(MACROS, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def install_macros(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Create, on ``con`` (a cursor in an open transaction), the macros whose names occur in ``query``."""
    for name in sorted({m.lower() for m in _NAMES.findall(query)}):
        con.execute(MACROS[name])
