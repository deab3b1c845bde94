// Turns a lineage (or diff) answer into Cytoscape elements: one node per artifact or execution, optionally
// inside its context (compound parent), or, for large graphs, one node per type with the edges between types
// summed; a type can be expanded back into its nodes.

//: Graphs with this many nodes or more start collapsed by type.
export const COLLAPSE_AT = 300;

function detail(n) {
  return [n.kind, n.type, n.state, n.uri].filter(Boolean).join(" · ");
}

export function graphElements(data, { root, collapse, group, expanded }) {
  const elements = [];
  const where = new Map(); // node id -> the element id it is drawn as
  const counts = new Map();
  for (const n of data.nodes) counts.set(n.type, (counts.get(n.type) || 0) + 1);
  const contexts = new Map((data.contexts || []).map((c) => [c.id, c]));
  const usedContexts = new Set();
  for (const n of data.nodes) {
    if (collapse && !expanded.has(n.type) && counts.get(n.type) > 1) {
      const gid = `type:${n.type}`;
      if (!where.has(gid)) {
        elements.push({ group: "nodes", classes: `group ${n.kind}`, data: { id: gid, type: n.type,
          label: `${n.type}\n${counts.get(n.type)} nodes`, detail: `${counts.get(n.type)} ${n.kind}s of type ${n.type}` } });
        where.set(gid, gid);
      }
      where.set(n.id, gid);
      continue;
    }
    const mark = n.status && n.status !== "same" ? { added: "+ ", changed: "~ ", removed: "− " }[n.status] : "";
    const data_ = { id: `n${n.id}`, nid: n.id, type: n.type, label: `${mark}${n.type}\n${n.name || n.id}`,
      detail: detail(n) };
    const first = group && n.contexts && n.contexts.length ? n.contexts[0] : null;
    if (first !== null && contexts.has(first)) {
      data_.parent = `c${first}`;
      usedContexts.add(first);
    }
    const classes = [n.kind, n.id === root ? "root" : "", n.status || ""].filter(Boolean).join(" ");
    elements.push({ group: "nodes", classes, data: data_ });
    where.set(n.id, `n${n.id}`);
  }
  for (const id of usedContexts) {
    const c = contexts.get(id);
    elements.unshift({ group: "nodes", classes: "context", data: { id: `c${id}`, label: `${c.type} ${c.name}`,
      detail: `context ${id}` } });
  }
  const edges = new Map();
  for (const e of data.edges) {
    const source = where.get(e.source);
    const target = where.get(e.target);
    if (!source || !target || source === target) continue;
    const key = `${source}>${target}>${e.status || ""}`;
    const edge = edges.get(key);
    if (edge) edge.data.count += 1;
    else edges.set(key, { group: "edges", classes: e.status || "", data: { id: `e${edges.size}`, source, target, count: 1 } });
  }
  return elements.concat([...edges.values()]);
}

//: Rows of a layer in the grid layout of a large graph (a longer layer wraps into more columns).
const LAYER_ROWS = 25;

// Cells for Cytoscape's grid layout when a graph is too large for dagre: each node's layer is its longest
// distance from a source (a node nothing flows into), layers are columns left to right as data flows, and a
// layer taller than LAYER_ROWS wraps into several columns. Returns {cells: id -> {row, col}, rows, cols}.
export function layerCells(elements) {
  const nodes = elements.filter((e) => e.group === "nodes" && !elements.some((c) => c.data.parent === e.data.id));
  const ids = new Set(nodes.map((n) => n.data.id));
  const next = new Map([...ids].map((id) => [id, []]));
  const indegree = new Map([...ids].map((id) => [id, 0]));
  for (const e of elements) {
    if (e.group !== "edges" || !ids.has(e.data.source) || !ids.has(e.data.target)) continue;
    next.get(e.data.source).push(e.data.target);
    indegree.set(e.data.target, indegree.get(e.data.target) + 1);
  }
  const layer = new Map();
  let frontier = [...ids].filter((id) => indegree.get(id) === 0);
  for (const id of frontier) layer.set(id, 0);
  while (frontier.length) {
    const following = [];
    for (const id of frontier) {
      for (const to of next.get(id)) {
        layer.set(to, Math.max(layer.get(to) ?? 0, layer.get(id) + 1));
        indegree.set(to, indegree.get(to) - 1);
        if (indegree.get(to) === 0) following.push(to);
      }
    }
    frontier = following;
  }
  const layers = [];
  for (const id of ids) {
    const l = layer.get(id) ?? 0; // a node on a cycle (none in lineage) goes first
    (layers[l] ||= []).push(id);
  }
  const cells = new Map();
  let col = 0;
  for (const members of layers.filter(Boolean)) {
    members.forEach((id, i) => cells.set(id, { row: i % LAYER_ROWS, col: col + Math.floor(i / LAYER_ROWS) }));
    col += Math.ceil(members.length / LAYER_ROWS) + 1;
  }
  const rows = Math.min(LAYER_ROWS, Math.max(1, ...layers.filter(Boolean).map((m) => m.length)));
  return { cells, rows, cols: Math.max(1, col - 1) };
}
