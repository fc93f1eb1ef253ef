import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as errors from "../src/errors/index.js";
import * as main from "../src/index.js";

// compiled to <outDir>/test/: the repository root is two levels up
const root = fileURLToPath(new URL("../../", import.meta.url));

test("outlast re-exports every runtime export of outlast/errors", () => {
  for (const name of Object.keys(errors)) {
    assert.ok(name in main, `outlast/errors exports ${name} but outlast does not`);
    assert.equal((main as Record<string, unknown>)[name], (errors as Record<string, unknown>)[name], name);
  }
});

test("entry files list their public API by name: no `export *` anywhere in src/", () => {
  const src = join(root, "src");
  const offenders = readdirSync(src, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .filter((f) => /^\s*export \*/m.test(readFileSync(join(src, f), "utf8")));
  assert.deepEqual(offenders, []);
});

test("package exports name each entry file; no wildcard reaches internals", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    exports: Record<string, string | { types: string; default: string }>;
  };
  for (const [key, target] of Object.entries(pkg.exports)) {
    assert.ok(!key.includes("*"), `exports key ${key} is a wildcard`);
    if (key === "./package.json") continue;
    assert.equal(typeof target, "object", key);
    if (typeof target === "object") {
      assert.match(target.default, /^\.\/dist\/src\/(?:[a-z-]+\/)?index\.js$/, `${key} points at an entry file`);
      assert.equal(target.types, target.default.replace(/\.js$/, ".d.ts"), `${key} types beside its code`);
    }
  }
});
