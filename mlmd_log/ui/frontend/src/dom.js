// Small DOM helpers: elements are built with textContent only, so no stored text is ever parsed as HTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A table with a header row; a row is an array of cells or {cells, class}.
export function table(headers, rows, id) {
  const body = el("tbody");
  for (const row of rows) {
    const cells = Array.isArray(row) ? row : row.cells;
    const tr = el("tr", Array.isArray(row) || !row.class ? {} : { class: row.class });
    for (const cell of cells) tr.append(el("td", {}, cell instanceof Node ? cell : String(cell ?? "")));
    body.append(tr);
  }
  return el("table", id ? { id } : {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    body);
}

export function nodeLink(id, text, asOf) {
  const query = asOf !== null && asOf !== undefined && asOf !== "" ? `?as_of=${encodeURIComponent(asOf)}` : "";
  return el("a", { href: `#/node/${id}${query}` }, text);
}

export function fmtTime(ms) {
  if (!ms) return "";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export function fmtValue(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "object") {
    const entries = Object.entries(value);
    if (!Array.isArray(value) && entries.every(([, v]) => v === null || typeof v !== "object")) {
      return entries.map(([k, v]) => `${k}=${v}`).join(", ");
    }
    return JSON.stringify(value);
  }
  return String(value);
}
