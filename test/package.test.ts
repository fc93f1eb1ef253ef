/**
 * What `npm install outlast` (from the registry, a tarball or git) gets: a
 * `prepare` build (so a git install has dist/), source maps whose sources ship
 * with them, and entry points that expose no internal helper.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// compiled to <root>/dist/test/: the package root is two levels up
const root = fileURLToPath(new URL("../../", import.meta.url));

test("the packed files: dist/src and src, no tests; every source map points at a file the package ships", (t) => {
  let out: string;
  try {
    out = execFileSync(
      process.platform === "win32" ? "npm.cmd" : "npm",
      ["pack", "--dry-run", "--json", "--ignore-scripts"],
      {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
  } catch (err) {
    return t.skip(`npm pack could not run: ${(err as Error).message}`);
  }
  const files = new Set((JSON.parse(out) as [{ files: { path: string }[] }])[0].files.map((f) => f.path));
  for (const f of [
    "package.json",
    "dist/src/index.js",
    "dist/src/cli/main.js",
    "dist/src/proxy/index.d.ts",
    "src/index.ts",
  ])
    assert.ok(files.has(f), `${f} is packed`);
  assert.ok(![...files].some((f) => f.startsWith("dist/test/") || f.startsWith("test/")), "no tests in the package");
  const maps = [...files].filter((f) => f.endsWith(".js.map"));
  assert.ok(maps.length > 50, `source maps packed: ${maps.length}`);
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(root, map), "utf8")) as { sources: string[] };
    for (const source of sources) {
      const shipped = relative(root, join(root, dirname(map), source))
        .split("\\")
        .join(posix.sep);
      assert.ok(files.has(shipped), `${map} points at ${shipped}, which the package does not ship`);
    }
  }
});

test("package.json builds on install from git (prepare) and outlast/proxy exports no internal helper", async () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
  assert.match(pkg.scripts["prepare"] ?? "", /scripts\/setup\.mjs/);
  const proxy = (await import("../src/proxy/index.js")) as Record<string, unknown>;
  for (const name of ["createRandom", "deriveSeed", "normalizeFault"])
    assert.equal(name in proxy, false, `outlast/proxy exports ${name}`);
  assert.equal(typeof proxy["createProxy"], "function");
});
