import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { KINDS } from "../../src/errors/classification.js";
import { CODE_RULES } from "../../src/errors/code-rules.js";
import { errnosForCode } from "../../src/errors/errno-tables.js";
import { OUTLAST_ERROR_CODES } from "../../src/errors/outlast-error.js";

// compiled to <outDir>/test/errors/: the repository root is three levels up
const docs = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");

function section(name: string): string {
  const start = `<!-- generated:${name}:start -->`;
  const end = `<!-- generated:${name}:end -->`;
  const i = docs.indexOf(start);
  const j = docs.indexOf(end);
  assert.ok(i >= 0 && j > i, `docs/errors.md has the ${name} markers`);
  return docs.slice(i + start.length, j);
}

/** Table rows of a markdown section: cells without the backticks. */
function rows(md: string): string[][] {
  return md
    .split("\n")
    .filter((l) => l.startsWith("|") && !/^\|\s*-/.test(l))
    .slice(1) // header
    .map((l) =>
      l
        .slice(1, -1)
        .split("|")
        .map((c) => c.trim().replace(/^`|`$/g, "")),
    );
}

test("every code in CODE_RULES is in the docs' generated table with the same verdict", () => {
  const table = new Map(rows(section("codes")).map((r) => [r[0], r]));
  for (const [code, rule] of CODE_RULES) {
    const r = table.get(code);
    assert.ok(r, `${code} is missing from docs/errors.md: run \`node scripts/gen-errors-doc.mjs\``);
    assert.equal(r[1], rule.kind, `${code} kind`);
    assert.equal(r[2], rule.connection ? "yes" : "no", `${code} connection`);
    assert.equal(r[3], rule.connectPhase ? "no" : "maybe", `${code} delivered`);
  }
  for (const code of table.keys()) {
    assert.ok(
      code !== undefined && CODE_RULES.has(code),
      `docs/errors.md lists ${code}, which CODE_RULES does not have`,
    );
  }
});

test("every number in the docs' errno table matches the tables", () => {
  const table = rows(section("errno"));
  assert.ok(table.length >= 30);
  for (const r of table) {
    const [code, linux, darwin, freebsd, wsa, winNode] = r;
    assert.ok(code !== undefined);
    const n = errnosForCode(code);
    assert.ok(n, `docs list ${code}, which the errno tables do not have`);
    const cell = (v: number | undefined) => (v === undefined ? "—" : String(v));
    assert.equal(linux, cell(n.linux?.errno), `${code} linux`);
    assert.equal(darwin, cell(n.darwin?.errno), `${code} darwin`);
    assert.equal(freebsd, cell(n.freebsd?.errno), `${code} freebsd`);
    assert.equal(wsa, cell(n.win32?.wsa), `${code} wsa`);
    assert.ok(winNode?.includes(cell(n.win32?.node)), `${code} win32 node`);
  }
  for (const code of ["ECONNRESET", "ENETRESET", "ENETDOWN", "EHOSTDOWN", "EADDRNOTAVAIL", "ESHUTDOWN", "ENONET"]) {
    assert.ok(
      table.some((r) => r[0] === code),
      `${code} is in the errno table`,
    );
  }
});

test("every Kind is documented, in the generated kinds table", () => {
  const kinds = rows(section("kinds")).map((r) => r[0]);
  assert.deepEqual([...kinds].sort(), [...KINDS].sort());
});

test("every OutlastErrorCode is documented, and the docs name no other", () => {
  for (const code of OUTLAST_ERROR_CODES)
    assert.ok(docs.includes(`\`${code}\``), `${code} is missing from docs/errors.md`);
  const outside = docs.replace(/<!-- generated:codes:start -->[\s\S]*<!-- generated:codes:end -->/, "");
  const mentioned = new Set(outside.match(/\bOUTLAST_[A-Z_]+\b/g) ?? []);
  for (const code of mentioned) {
    assert.ok(
      (OUTLAST_ERROR_CODES as readonly string[]).includes(code),
      `docs/errors.md names ${code}, which outlast-error.ts does not have`,
    );
  }
});
