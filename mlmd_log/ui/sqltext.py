"""The SQL behind each view: fixed statements over the documented tables, views and macros.

Every value (position, id, hops, search text) travels as a named parameter;
node kinds come from an allow-list. The UI shows each statement with its
parameters so it can be copied into ``store.sql(query, params)`` or
``mlmd-log sql`` and gives the rows the view was drawn from.
"""

# ruff: noqa: S608  # statements are built at import from fixed fragments and allow-listed kinds only

from __future__ import annotations

from typing import Any, Final

from mlmd_log.ui.shapes import KINDS

SEARCH: Final = """SELECT n.kind, n.id, n.type, n.name, n.uri FROM (
    SELECT 'artifact' AS kind, a.id, t.name AS type, a.name, a.uri
    FROM artifacts_as_of($position) a JOIN types_as_of($position) t ON t.id = a.type_id
    UNION ALL SELECT 'execution', e.id, t.name, e.name, NULL
    FROM executions_as_of($position) e JOIN types_as_of($position) t ON t.id = e.type_id
    UNION ALL SELECT 'context', c.id, t.name, c.name, NULL
    FROM contexts_as_of($position) c JOIN types_as_of($position) t ON t.id = c.type_id
) n
WHERE contains(lower(coalesce(n.name, '')), lower($text)) OR contains(lower(coalesce(n.uri, '')), lower($text))
   OR contains(lower(n.type), lower($text)) OR CAST(n.id AS VARCHAR) = $text
ORDER BY n.id LIMIT $limit"""

#: A node and its properties at a position, and every version with the op that wrote it.
NODE: Final[dict[str, str]] = {
    kind: f"""SELECT n.*, p.name AS property, p.is_custom, p.int_value, p.double_value, p.string_value,
       p.bool_value, p.struct_value
FROM {kind}s_as_of($position) n
LEFT JOIN {kind}_properties_as_of($position) p ON p.{kind}_id = n.id
WHERE n.id = $id ORDER BY p.is_custom, p.name"""
    for kind in KINDS
}
HISTORY: Final[dict[str, str]] = {
    kind: f"""SELECT v.valid_from, v.valid_to, a.payload, a.team, a.service, a."user", a.host, a.log_time_ms
FROM {kind}_versions v JOIN op_archive a ON a.position = v.valid_from
WHERE v.id = $id ORDER BY v.valid_from"""
    for kind in KINDS
}

_WALK: Final[dict[str, str]] = {
    "up": "SELECT kind, id, hops FROM upstream($id, $hops, as_of := $position)",
    "down": "SELECT kind, id, hops FROM downstream($id, $hops, as_of := $position)",
    "both": "SELECT kind, id, min(hops) AS hops FROM (\n"
    "        SELECT * FROM upstream($id, $hops, as_of := $position)\n"
    "        UNION ALL SELECT * FROM downstream($id, $hops, as_of := $position)) GROUP BY kind, id",
}

#: The lineage around a node: the nodes the walk reaches and the events between them, as of a position.
LINEAGE_NODES: Final[dict[str, str]] = {
    direction: f"WITH walk AS ({walk})\nSELECT kind, id, hops FROM walk ORDER BY hops, kind, id"
    for direction, walk in _WALK.items()
}
LINEAGE_EDGES: Final[dict[str, str]] = {
    direction: f"""WITH walk AS ({walk})
SELECT e.artifact_id, e.execution_id, e.type FROM events_as_of($position) e
WHERE e.artifact_id IN (SELECT id FROM walk) AND e.execution_id IN (SELECT id FROM walk)
ORDER BY e.valid_from, e.artifact_id, e.execution_id"""
    for direction, walk in _WALK.items()
}

#: The contexts each node belongs to at a position (the graph's grouping).
MEMBERSHIP: Final = """SELECT r.artifact_id AS node_id, r.context_id FROM attributions_as_of($position) r
WHERE r.artifact_id IN (SELECT unnest($ids::BIGINT[]))
UNION ALL SELECT r.execution_id, r.context_id FROM associations_as_of($position) r
WHERE r.execution_id IN (SELECT unnest($ids::BIGINT[]))
ORDER BY 1, 2"""

_NODE_DIFF: Final = "\nUNION ALL ".join(
    f"""SELECT '{kind}' AS kind, coalesce(b.id, a.id) AS id,
    CASE WHEN a.id IS NULL THEN 'added' WHEN b.id IS NULL THEN 'removed' ELSE 'changed' END AS status
FROM {kind}s_as_of($from) a FULL JOIN {kind}s_as_of($to) b ON a.id = b.id
WHERE a.id IS NULL OR b.id IS NULL OR a.valid_from <> b.valid_from"""
    for kind in KINDS
)
#: Nodes with a new version, created or gone between two positions.
DIFF_NODES: Final = f"SELECT * FROM (\n{_NODE_DIFF}\n) ORDER BY id LIMIT $limit"
#: Events present at one position and not the other.
DIFF_EDGES: Final = """SELECT *, 'added' AS status FROM (
    SELECT artifact_id, execution_id, type FROM events_as_of($to)
    EXCEPT SELECT artifact_id, execution_id, type FROM events_as_of($from))
UNION ALL SELECT *, 'removed' FROM (
    SELECT artifact_id, execution_id, type FROM events_as_of($from)
    EXCEPT SELECT artifact_id, execution_id, type FROM events_as_of($to))
ORDER BY 1, 2, 3 LIMIT $limit"""

#: The log's positions and times (the slider's stops).
POSITIONS: Final = """SELECT position, payload, outcome, team, service, "user", log_time_ms
FROM op_archive ORDER BY position DESC LIMIT $limit"""

#: Each context with the first and last log position that wrote it, its executions or its links.
CONTEXT_SPANS: Final = """WITH touched AS (
    SELECT id AS context_id, valid_from FROM context_versions
    UNION ALL SELECT context_id, valid_from FROM attribution_versions
    UNION ALL SELECT context_id, valid_from FROM association_versions
    UNION ALL SELECT r.context_id, v.valid_from FROM association_versions r
        JOIN execution_versions v ON v.id = r.execution_id
)
SELECT c.id, t.name AS type, c.name, min(x.valid_from) AS first_position, max(x.valid_from) AS last_position
FROM contexts c JOIN types t ON t.id = c.type_id JOIN touched x ON x.context_id = c.id
GROUP BY c.id, t.name, c.name ORDER BY c.id LIMIT $limit"""


def shown(query: str, params: dict[str, Any], title: str) -> dict[str, Any]:
    """A statement as the UI shows it: a title, the text, and its named parameters."""
    return {"title": title, "query": query, "params": params}
