// The lineage explorer: hash-routed pages over the JSON endpoints in mlmd_log/ui/app.py.
// Routes: #/search, #/node/ID, #/graph/ID, #/diff. Every page reading the store takes as_of from the URL,
// so a link is a permalink to the view as it was at that log position.
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { graphElements, layerCells, COLLAPSE_AT } from "./elements.js";
import { el, table, nodeLink, fmtTime, fmtValue } from "./dom.js";

cytoscape.use(dagre);
document.body.dataset.bootMs = String(Math.round(performance.now()));

const API = "api/";
//: The most nodes laid out with dagre (see draw()).
const DAGRE_MAX = 150;
const main = document.getElementById("main");
const status = document.getElementById("status");
let positionsCache = null;
let renderToken = 0;
// When the change being drawn was asked for: the slider's first move of a burst, else the URL change
// (performance.now() counts from navigation start, so a page load counts the bundle's load too).
let pendingStart = null;

async function getJSON(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") query.set(k, v);
  const url = API + path + (query.toString() ? "?" + query : "");
  const early = window.earlyRequests && window.earlyRequests[url];
  if (early) delete window.earlyRequests[url];
  const response = await (early || fetch(url));
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.error}: ${body.message}`);
  return body;
}

async function positions() {
  if (positionsCache === null) positionsCache = await getJSON("positions");
  return positionsCache;
}

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "") || "search";
  const [path, query = ""] = hash.split("?");
  const startedAt = pendingStart ?? performance.now();
  pendingStart = null;
  return { parts: path.split("/"), params: new URLSearchParams(query), token: ++renderToken, startedAt };
}

// True once a newer URL is being rendered: a slow answer for an older one must not replace the page.
function stale(route) {
  return route.token !== renderToken;
}

function routeTo(parts, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") query.set(k, v);
  const text = query.toString();
  return "#/" + parts.join("/") + (text ? "?" + text : "");
}

function go(parts, params) {
  location.hash = routeTo(parts, params);
}

// --- shared pieces ------------------------------------------------------------------------------

function sqlPanel(statements, api) {
  const box = el("details", { class: "panel", id: "sql" }, el("summary", {}, "SQL behind this view"));
  if (api) box.append(el("p", {}, "Python API: ", el("code", {}, api)));
  for (const s of statements) {
    const text = `-- ${s.title}\n-- store.sql(query, params) with params = ${JSON.stringify(s.params)}\n${s.query}`;
    const pre = el("pre", { class: "sql", tabindex: "0" }, text);
    const copy = el("button", { type: "button" }, "Copy");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(text);
        copy.textContent = "Copied";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(pre);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        copy.textContent = "Selected: press Ctrl+C";
      }
    });
    box.append(el("h2", {}, s.title), copy, pre);
  }
  return box;
}

// The as-of slider over log positions and times: moving it rewrites as_of in the URL (a permalink).
async function asOfBar(route, position, onChange) {
  const log = await positions();
  const byPosition = new Map(log.positions.map((p) => [p.position, p]));
  const slider = el("input", { type: "range", min: "-1", max: String(log.last), step: "1", value: String(position),
    id: "asof-slider", "aria-label": "As of log position" });
  const label = el("output", { id: "asof-label", for: "asof-slider" });
  const describe = (p) => {
    const stop = byPosition.get(p);
    return stop ? `position ${p} of ${log.last} · ${fmtTime(stop.time_ms)} · ${stop.op}${stop.service ? " by " + stop.service : ""}`
      : `position ${p} of ${log.last}`;
  };
  label.textContent = describe(position);
  let timer = null;
  slider.addEventListener("input", () => {
    pendingStart ??= performance.now();
    const p = Number(slider.value);
    label.textContent = describe(p);
    clearTimeout(timer);
    timer = setTimeout(() => onChange(p), 60);
  });
  const latest = el("button", { type: "button", id: "asof-latest" }, "Latest");
  latest.addEventListener("click", () => onChange(null));
  const pinned = { ...Object.fromEntries(route.params), as_of: position };
  const permalink = el("a", { id: "permalink", href: routeTo(route.parts, pinned) }, `Permalink (as of ${position})`);
  return el("div", { class: "asof" }, el("div", { class: "row" },
    el("label", { for: "asof-slider" }, "As of"), slider, latest, permalink), label);
}

function showError(error) {
  main.replaceChildren(el("p", { class: "error", role: "alert" }, String(error.message || error)));
}

// --- pages ----------------------------------------------------------------------------------------

async function searchPage(route) {
  const p = route.params;
  const q = el("input", { type: "search", id: "q", name: "q", value: p.get("q") || "",
    "aria-label": "Name, uri, type or id" });
  const fq = el("input", { type: "text", id: "fq", name: "filter_query", value: p.get("filter_query") || "",
    "aria-label": "filter_query", placeholder: "e.g. type = 'Model' AND uri LIKE '%run-3%'" });
  const kind = el("select", { id: "kind", "aria-label": "Kind for filter_query" },
    ...["artifact", "execution", "context"].map((k) => el("option", { value: k, selected: p.get("kind") === k }, k)));
  const form = el("form", { class: "row", role: "search" },
    el("label", { for: "q" }, "Name"), q, el("label", { for: "fq" }, "or filter_query"), fq, kind,
    el("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    go(["search"], { q: q.value, filter_query: fq.value, kind: fq.value ? kind.value : "", as_of: p.get("as_of") });
  });
  main.replaceChildren(el("h1", {}, "Search"), form);
  if (!p.get("q") && !p.get("filter_query")) {
    q.focus();
    return;
  }
  const found = await getJSON("search", { q: p.get("q"), filter_query: p.get("filter_query"),
    kind: p.get("kind") || "artifact", as_of: p.get("as_of") });
  if (stale(route)) return;
  main.append(el("p", { role: "status" }, `${found.results.length} found at position ${found.position}`),
    table(["id", "kind", "type", "name", "uri"], found.results.map((r) => [
      nodeLink(r.id, String(r.id), p.get("as_of")), r.kind, r.type, r.name ?? "", r.uri ?? ""]), "results"),
    sqlPanel(found.sql, found.api));
}

function propertiesTable(title, props, id) {
  const rows = Object.entries(props).map(([k, v]) => [k, fmtValue(v)]);
  return [el("h2", {}, title), rows.length ? table(["name", "value"], rows, id) : el("p", { class: "muted" }, "none")];
}

async function nodePage(route) {
  const id = route.parts[1];
  const asOf = route.params.get("as_of");
  const node = await getJSON(`node/${id}`, { as_of: asOf });
  const bar = await asOfBar(route, node.position, (p) => go(["node", id], { as_of: p }));
  if (stale(route)) return;
  const links = el("p", { class: "row" });
  if (node.kind !== "context") {
    for (const [dir, text] of [["up", "Upstream lineage"], ["down", "Downstream lineage"], ["both", "Both"]]) {
      links.append(el("a", { href: routeTo(["graph", id], { direction: dir, as_of: asOf }) }, text));
    }
  }
  const facts = [["kind", node.kind], ["type", node.type], ["name", node.name ?? ""], ["state", node.state ?? ""],
    ["external id", node.external_id ?? ""], ["created", fmtTime(node.create_time_ms)],
    ["last updated", fmtTime(node.update_time_ms)]];
  if (node.kind === "artifact") facts.splice(3, 0, ["uri", node.uri ?? ""]);
  const parts = [el("h1", {}, `${node.type} ${node.id}${node.name ? " · " + node.name : ""}`), bar, links,
    table(["field", "value"], facts, "facts"),
    ...propertiesTable("Properties", node.properties, "properties"),
    ...propertiesTable("Custom properties", node.custom_properties, "custom-properties")];
  if (node.kind !== "context") {
    parts.push(el("h2", {}, "Events"), table(["event", "with", "type", "path", "time"], node.events.map((e) => [
      e.type, e.other ? nodeLink(e.other.id, e.other.label, asOf) : String(e.kind === "artifact" ? e.execution_id
        : e.artifact_id), e.other?.type ?? "", e.path.join("/"), fmtTime(e.time_ms)]), "events"));
  } else {
    for (const [title, key] of [["Executions", "executions"], ["Artifacts", "artifacts"], ["Child contexts", "children"]]) {
      parts.push(el("h2", {}, title), table(["id", "type", "label", "state"], node.members[key].map((m) => [
        nodeLink(m.id, String(m.id), asOf), m.type, m.label, m.state ?? ""]), `members-${key}`));
    }
  }
  parts.push(el("h2", {}, node.kind === "context" ? "Parent contexts" : "Contexts"),
    table(["id", "type", "name"], node.contexts.map((c) => [nodeLink(c.id, String(c.id), asOf), c.type, c.name ?? ""]),
      "contexts"));
  parts.push(el("h2", {}, "Versions"), table(["valid from", "valid to", "op", "written by", "time", "state",
    "properties", "custom properties"], node.versions.map((v) => {
    const cell = el("span", {}, String(v.valid_from));
    if (v.current_at_position) cell.append(el("strong", {}, " (shown)"));
    return [cell, v.valid_to ?? "current", v.op, [v.team, v.service, v.user, v.host].filter(Boolean).join(" / "),
      fmtTime(v.time_ms), v.state ?? "", fmtValue(v.properties), fmtValue(v.custom_properties)];
  }), "versions"));
  parts.push(sqlPanel(node.sql));
  main.replaceChildren(...parts);
}

function gridLayout(elements) {
  const { cells, rows, cols } = layerCells(elements);
  return { name: "grid", rows, cols, position: (node) => cells.get(node.id()), avoidOverlap: true,
    condense: true, animate: false, fit: true };
}

// Draws the elements into #cy; returns the Cytoscape instance. Arrow keys move the selection, Enter opens it.
function draw(container, elements, onOpen, onExpand) {
  const big = elements.filter((e) => e.group === "nodes").length > DAGRE_MAX;
  const cy = cytoscape({
    container, elements, wheelSensitivity: 0.3, boxSelectionEnabled: false,
    // Many nodes: straight edges and no labels too small to read (the table lists every node anyway).
    textureOnViewport: big, hideEdgesOnViewport: big,
    style: [
      { selector: "node", style: { label: "data(label)", "font-size": 11, color: "#111827", "text-wrap": "wrap",
        "text-max-width": 130, "text-valign": "center", "background-color": "#dbeafe", "border-width": 1,
        "border-color": "#1e3a8a", shape: "round-rectangle", width: 140, height: 38 } },
      { selector: "node.execution", style: { "background-color": "#ffedd5", "border-color": "#9a3412",
        shape: "ellipse" } },
      { selector: "node.group", style: { "background-color": "#e5e7eb", "border-style": "dashed", "font-weight": "bold" } },
      { selector: ":parent", style: { "text-valign": "top", "background-color": "#f8fafc", "background-opacity": 1,
        "border-color": "#6b7280", shape: "round-rectangle", "font-weight": "bold", padding: 14 } },
      { selector: "node.root", style: { "border-width": 4 } },
      { selector: "node.added", style: { "background-color": "#dcfce7", "border-color": "#166534", "border-width": 3 } },
      { selector: "node.changed", style: { "background-color": "#fef3c7", "border-color": "#92400e", "border-width": 3 } },
      { selector: "node.removed", style: { "background-color": "#fee2e2", "border-color": "#991b1b", "border-width": 3,
        "border-style": "dashed" } },
      { selector: "node:selected", style: { "border-color": "#b45309", "border-width": 5 } },
      { selector: "edge", style: { width: 1.5, "line-color": "#6b7280", "target-arrow-color": "#6b7280",
        "target-arrow-shape": "triangle", "curve-style": "bezier" } },
      { selector: "edge.added", style: { "line-color": "#166534", "target-arrow-color": "#166534", width: 3 } },
      { selector: "edge.removed", style: { "line-color": "#991b1b", "target-arrow-color": "#991b1b", width: 3,
        "line-style": "dashed" } },
      { selector: "edge[count > 1]", style: { label: "data(count)", "font-size": 10 } },
      ...(big ? [{ selector: "node", style: { "min-zoomed-font-size": 7 } },
        { selector: "edge", style: { "curve-style": "haystack", "haystack-radius": 0 } }] : []),
    ],
    // dagre's layered layout up to DAGRE_MAX nodes; beyond, its ordering passes take seconds, so a large
    // graph (an expanded type group) goes into Cytoscape's grid layout, a column per layer (linear time).
    layout: !big
      ? { name: "dagre", rankDir: "LR", nodeSep: 12, rankSep: 60, animate: false, fit: true }
      : gridLayout(elements),
    maxZoom: 1.6,
  });
  const order = () => cy.nodes().filter((n) => !n.isParent()).sort((a, b) => a.position("x") - b.position("x")
    || a.position("y") - b.position("y"));
  cy.on("tap", "node", (ev) => { if (ev.target.hasClass("group")) onExpand(ev.target.data("type")); });
  cy.on("dbltap", "node", (ev) => { if (!ev.target.isParent() && !ev.target.hasClass("group")) onOpen(ev.target.data("nid")); });
  container.addEventListener("keydown", (ev) => {
    const nodes = order();
    if (!nodes.length) return;
    const selected = cy.$("node:selected");
    let index = selected.length ? nodes.indexOf(selected[0]) : -1;
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") index = Math.min(nodes.length - 1, index + 1);
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") index = Math.max(0, index - 1);
    else if (ev.key === "Enter" && selected.length) {
      if (selected.hasClass("group")) onExpand(selected.data("type"));
      else onOpen(selected.data("nid"));
      return;
    } else return;
    ev.preventDefault();
    cy.$("node:selected").unselect();
    nodes[index].select();
    cy.center(nodes[index]);
    status.textContent = `Selected ${nodes[index].data("label").replace(/\n/g, " ")} (Enter opens)`;
  });
  return cy;
}

function graphTable(nodes, contexts, asOf, id) {
  const names = new Map(contexts.map((c) => [c.id, c.label]));
  return table(["id", "kind", "type", "label", "state", "contexts"], nodes.map((n) => ({
    cells: [nodeLink(n.id, String(n.id), asOf), n.kind, n.type, n.uri ?? n.label, n.state ?? "",
      (n.contexts || []).map((c) => names.get(c) ?? c).join(", ")],
    class: n.status && n.status !== "same" ? n.status : "",
  })), id);
}

async function graphPage(route) {
  const id = route.parts[1];
  const p = route.params;
  const started = performance.now();
  const direction = p.get("direction") || "up";
  const hops = p.get("hops") || "20";
  const [data] = await Promise.all([getJSON(`lineage/${id}`, { direction, hops, as_of: p.get("as_of") }),
    positions()]);
  const fetched = performance.now();
  if (stale(route)) return;
  const expanded = new Set((p.get("expand") || "").split(",").filter(Boolean));
  const collapse = p.get("collapse") ? p.get("collapse") === "1" : data.nodes.length >= COLLAPSE_AT;
  const group = p.get("group") ? p.get("group") === "1" : !collapse;
  const set = (changes) => go(["graph", id], { direction, hops, as_of: p.get("as_of"), collapse: collapse ? "1" : "0",
    group: group ? "1" : "0", expand: [...expanded].join(","), ...changes });
  const bar = await asOfBar(route, data.position, (pos) => set({ as_of: pos }));
  if (stale(route)) return;
  const dirSelect = el("select", { id: "direction", "aria-label": "Direction" },
    ...[["up", "upstream"], ["down", "downstream"], ["both", "both"]].map(([v, t]) =>
      el("option", { value: v, selected: v === direction }, t)));
  dirSelect.addEventListener("change", () => set({ direction: dirSelect.value }));
  const hopsInput = el("input", { type: "number", id: "hops", min: "0", max: "100", value: hops, "aria-label": "Hops",
    style: "width:5em" });
  hopsInput.addEventListener("change", () => set({ hops: hopsInput.value }));
  const groupBox = el("input", { type: "checkbox", id: "group", checked: group });
  groupBox.addEventListener("change", () => set({ group: groupBox.checked ? "1" : "0" }));
  const collapseBox = el("input", { type: "checkbox", id: "collapse", checked: collapse });
  collapseBox.addEventListener("change", () => set({ collapse: collapseBox.checked ? "1" : "0", expand: "" }));
  const controls = el("div", { class: "row" }, el("label", { for: "direction" }, "Direction"), dirSelect,
    el("label", { for: "hops" }, "Hops"), hopsInput, el("label", {}, groupBox, " group by context"),
    el("label", {}, collapseBox, " collapse by type"), el("a", { href: routeTo(["node", id], { as_of: p.get("as_of") }) },
      "Node page"));
  const cyBox = el("div", { id: "cy", tabindex: "0", role: "application",
    "aria-label": `Lineage graph of ${id}: arrow keys move between nodes, Enter opens one; the table below lists the same nodes` });
  const side = el("div", { class: "panel", id: "selection" }, el("p", { class: "muted" },
    "Click a node to see it here; double-click or Enter opens its page. Click a type group to expand it."));
  const summary = el("p", { id: "graph-summary" }, `${data.nodes.length} nodes, ${data.edges.length} edges at position ` +
    `${data.position}${data.truncated ? " (cut at the store's node limit)" : ""}${data.note ? ": " + data.note : ""}`);
  const tableBox = el("div", { id: "graph-table-box" });
  main.replaceChildren(el("h1", {}, `Lineage of ${id} (${direction}stream`.replace("bothstream", "both ways") + ")"),
    bar, controls, summary, el("div", { class: "layout" }, cyBox, side),
    el("h2", {}, "Table view"), tableBox, sqlPanel(data.sql));
  const built = performance.now();
  const elements = graphElements(data, { root: Number(id), collapse, group, expanded });
  const cy = draw(cyBox, elements, (nid) => go(["node", nid], { as_of: p.get("as_of") }),
    (type) => { expanded.add(type); set({}); });
  cy.on("select", "node", (ev) => {
    const d = ev.target.data();
    side.replaceChildren(el("h2", {}, d.label.replace(/\n/g, " ")), el("p", {}, d.detail || ""),
      d.nid ? el("p", { class: "row" }, nodeLink(d.nid, "Open node page", p.get("as_of")),
        el("a", { href: routeTo(["graph", d.nid], { direction, hops, as_of: p.get("as_of") }) }, "Lineage from here"))
        : el("p", {}, "A group: click or press Enter to expand"));
  });
  const drawn = performance.now();
  // The graph is on screen at the next frame; the table view (the graph's text alternative, one row per
  // node) is built after it, so a large neighbourhood's first paint does not wait for a thousand rows.
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const paint = Math.round(performance.now() - route.startedAt);
  if (stale(route)) return;
  tableBox.replaceChildren(graphTable(data.nodes, data.contexts, p.get("as_of"), "graph-table"));
  document.body.dataset.paintMs = String(paint);
  document.body.dataset.graphPhases = JSON.stringify({ fetch: Math.round(fetched - started),
    page: Math.round(built - fetched), draw: Math.round(drawn - built) });
  document.body.dataset.graphReady = `${data.position}:${cy.nodes().length}`;
  status.textContent = `Drawn ${cy.nodes().length} elements in ${paint} ms`;
}

async function diffPage(route) {
  const p = route.params;
  const log = await positions();
  const spans = await getJSON("contexts");
  if (stale(route)) return;
  const from = el("input", { type: "number", id: "from", min: "-1", max: String(log.last), value: p.get("from") ?? "",
    style: "width:7em" });
  const to = el("input", { type: "number", id: "to", min: "-1", max: String(log.last), value: p.get("to") ?? String(log.last),
    style: "width:7em" });
  const node = el("input", { type: "number", id: "diff-node", value: p.get("node") ?? "", style: "width:9em",
    placeholder: "whole store" });
  const runOptions = (id) => el("select", { id, "aria-label": id === "run-a" ? "First run" : "Second run" },
    el("option", { value: "" }, "choose a context…"),
    ...spans.contexts.map((c) => el("option", { value: String(c.last_position) },
      `${c.type} ${c.name} (positions ${c.first_position}–${c.last_position})`)));
  const runA = runOptions("run-a");
  const runB = runOptions("run-b");
  runA.addEventListener("change", () => { if (runA.value) from.value = runA.value; });
  runB.addEventListener("change", () => { if (runB.value) to.value = runB.value; });
  const form = el("form", {},
    el("div", { class: "row" }, el("label", { for: "run-a" }, "After run"), runA, el("label", { for: "run-b" },
      "to after run"), runB),
    el("div", { class: "row" }, el("label", { for: "from" }, "From position"), from, el("label", { for: "to" }, "to"), to,
      el("label", { for: "diff-node" }, "lineage of node"), node, el("button", { type: "submit", id: "diff-go" }, "Compare")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    go(["diff"], { from: from.value, to: to.value, node: node.value });
  });
  main.replaceChildren(el("h1", {}, "Diff between two positions"), form);
  if (!p.get("from")) return;
  const data = await getJSON("diff", { from: p.get("from"), to: p.get("to"), node: p.get("node") });
  if (stale(route)) return;
  const c = data.counts;
  const legend = el("p", { class: "legend", id: "diff-summary" },
    el("span", { style: "background:var(--added-bg);color:var(--added)" }, `+ ${c.added} added`),
    el("span", { style: "background:var(--changed-bg);color:var(--changed)" }, `~ ${c.changed} changed`),
    el("span", { style: "background:var(--removed-bg);color:var(--removed)" }, `− ${c.removed} removed`),
    ` nodes; ${data.edge_counts.added} events added, ${data.edge_counts.removed} removed, from position ${data.from} to ${data.to}`);
  const rows = data.nodes.filter((n) => n.status !== "same").map((n) => ({
    cells: [n.status, nodeLink(n.id, String(n.id), String(data.to)), n.kind, n.type, n.uri ?? n.label,
      n.fields.map((f) => `${f.field}: ${fmtValue(f.old)} → ${fmtValue(f.new)}`).join("; ")],
    class: n.status,
  }));
  const cyBox = el("div", { id: "cy", tabindex: "0", role: "application",
    "aria-label": "The changed nodes and their events; the table above lists the same changes" });
  main.append(legend, table(["change", "id", "kind", "type", "label", "fields (before → after)"], rows, "diff-table"),
    cyBox, sqlPanel(data.sql));
  const graphNodes = data.nodes.filter((n) => n.kind !== "context");
  const cy = draw(cyBox, graphElements({ nodes: graphNodes, edges: data.edges, contexts: [] },
    { root: data.root, collapse: false, group: false, expanded: new Set() }),
  (nid) => go(["node", nid], { as_of: data.to }), () => {});
  document.body.dataset.graphReady = `${data.from}-${data.to}:${cy.nodes().length}`;
}

async function render() {
  const route = parseRoute();
  const focused = document.activeElement && document.activeElement.id;
  status.textContent = "Loading…";
  try {
    const page = route.parts[0];
    if (page === "node" && route.parts[1]) await nodePage(route);
    else if (page === "graph" && route.parts[1]) await graphPage(route);
    else if (page === "diff") await diffPage(route);
    else await searchPage(route);
    if (stale(route)) return;
    if (!status.textContent.startsWith("Drawn")) status.textContent = "";
  } catch (error) {
    if (stale(route)) return;
    showError(error);
    status.textContent = "";
  }
  // A page is rebuilt on every change of its URL: keep the keyboard where it was (the slider, a control).
  const again = focused && document.getElementById(focused);
  if (again) again.focus();
  document.body.dataset.route = location.hash;
}

window.addEventListener("hashchange", render);
render();
