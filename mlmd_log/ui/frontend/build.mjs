// Builds the explorer into ../static: one bundle (app.js), the page, the style sheet, and the license texts
// of every library bundled. Run with `npm ci && npm run build`; the output is committed, so no Node.js is
// needed to install or run mlmd-log.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

const out = "../static";
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome120", "firefox120", "safari17"],
  legalComments: "none",
  outfile: `${out}/app.js`,
});
copyFileSync("src/index.html", `${out}/index.html`);
copyFileSync("src/style.css", `${out}/style.css`);
for (const [pkg, name] of [
  ["cytoscape", "cytoscape"],
  ["cytoscape-dagre", "cytoscape-dagre"],
  ["@dagrejs/dagre", "dagre"],
]) {
  copyFileSync(`node_modules/${pkg}/LICENSE`, `${out}/LICENSE.${name}.txt`);
}
