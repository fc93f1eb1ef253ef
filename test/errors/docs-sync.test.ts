import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { KINDS } from "../../src/errors/classification.js";
import { CODE_RULES } from "../../src/errors/code-rules.js";
import { errnosForCode } from "../../src/errors/errno-tables.js";
import {
  isOutlastErrorCode,
  OUTLAST_ERROR_CODES,
  RETIRED_OUTLAST_ERROR_CODES,
} from "../../src/errors/outlast-error.js";

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

/** The rows of the markdown table that follows `heading` (up to the next heading). */
function tableAfter(heading: string): string[][] {
  const i = docs.indexOf(`\n${heading}\n`);
  assert.ok(i >= 0, `docs/errors.md has the heading ${heading}`);
  const rest = docs.slice(i + heading.length + 2);
  const next = rest.search(/\n#{1,6} /);
  return rows(next === -1 ? rest : rest.slice(0, next));
}

test("docs/errors.md lists exactly the live OutlastErrorCodes, and the retired ones apart", () => {
  const live = tableAfter("## Errors outlast throws").map((r) => r[0]);
  assert.deepEqual([...live].sort(), [...OUTLAST_ERROR_CODES].sort(), "the table of codes outlast throws");
  const retired = tableAfter("### Retired codes").map((r) => r[0]);
  assert.deepEqual([...retired].sort(), [...RETIRED_OUTLAST_ERROR_CODES].sort(), "the table of retired codes");
  for (const code of retired) assert.ok(code !== undefined && !isOutlastErrorCode(code), `${code} is retired`);
  const outside = docs.replace(/<!-- generated:codes:start -->[\s\S]*<!-- generated:codes:end -->/, "");
  const known = new Set<string>([...OUTLAST_ERROR_CODES, ...RETIRED_OUTLAST_ERROR_CODES]);
  for (const code of new Set(outside.match(/\bOUTLAST_[A-Z_]+\b/g) ?? [])) {
    assert.ok(known.has(code), `docs/errors.md names ${code}, which outlast-error.ts does not have`);
  }
});

test("every live OutlastErrorCode is thrown or sent somewhere in src/", () => {
  const src = fileURLToPath(new URL("../../../src/", import.meta.url));
  const text = readdirSync(src, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith("outlast-error.ts"))
    .map((f) => readFileSync(join(src, f), "utf8"))
    .join("\n");
  for (const code of OUTLAST_ERROR_CODES) {
    assert.ok(text.includes(`"${code}"`), `nothing in src/ uses ${code}: retire it (RETIRED_OUTLAST_ERROR_CODES)`);
  }
});
