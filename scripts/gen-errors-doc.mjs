#!/usr/bin/env node
// Regenerates the tables in docs/errors.md between the
// <!-- generated:NAME:start --> and <!-- generated:NAME:end --> markers, from
// the BUILT tables (run after `npm run build`).
// Usage: node scripts/gen-errors-doc.mjs [--dist <outDir>] [--check]
//   --dist   where tsc put its output (default: dist)
//   --check  change nothing; exit 1 when docs/errors.md is out of date
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: { dist: { type: "string", default: "dist" }, check: { type: "boolean", default: false } },
});
const dist = resolve(root, values.dist);
const load = (p) => import(pathToFileURL(join(dist, "src", "errors", p)).href);

let rules, tables, advice;
try {
  [rules, tables, advice] = await Promise.all([load("code-rules.js"), load("errno-tables.js"), load("advice.js")]);
} catch (err) {
  process.stderr.write(`gen-errors-doc: cannot load the built tables from ${dist} (${err.message}); build first\n`);
  process.exit(2);
}

const cell = (s) => String(s).replaceAll("|", "\\|");
const num = (n) => (n === undefined ? "—" : String(n));

/** The network codes whose numbers the docs list, in the order a reader looks for them. */
const NETWORK_CODES = [
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ESHUTDOWN",
  "ENOTCONN",
  "ETIMEDOUT",
  "ENETUNREACH",
  "ENETDOWN",
  "ENETRESET",
  "ENONET",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "EADDRNOTAVAIL",
  "EADDRINUSE",
  "EPROTO",
  "EALREADY",
  "EINPROGRESS",
  "EISCONN",
  "EMSGSIZE",
  "ENOBUFS",
  "EAFNOSUPPORT",
  "EPROTONOSUPPORT",
  "ENOTSOCK",
  "ECANCELED",
  "EAGAIN",
  "EBADF",
  "EINVAL",
  "ENOENT",
  "EACCES",
  "EPERM",
  "EMFILE",
  "ENFILE",
  "ENOSPC",
  "EIO",
];

function kindsTable() {
  const lines = ["| kind | meaning | what a client should do |", "| --- | --- | --- |"];
  for (const [kind, g] of Object.entries(advice.KIND_GUIDE))
    lines.push(`| \`${kind}\` | ${cell(g.meaning)} | ${cell(g.action)} |`);
  return lines.join("\n");
}

function codesTable() {
  const lines = ["| code | kind | connection | delivered | meaning |", "| --- | --- | --- | --- | --- |"];
  for (const [code, r] of rules.CODE_RULES) {
    const detail = r.detail === undefined ? "" : ` (detail \`${r.detail}\`)`;
    lines.push(
      `| \`${code}\` | ${r.kind} | ${r.connection ? "yes" : "no"} | ${r.connectPhase ? "no" : "maybe"} | ${cell(r.meaning)}${detail} |`,
    );
  }
  return lines.join("\n");
}

function errnoTable() {
  const lines = [
    "| code | Linux | macOS | FreeBSD | Windows WSA | Windows: Node reports | message |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const code of NETWORK_CODES) {
    const n = tables.errnosForCode(code);
    if (n === undefined) throw new Error(`${code} has no numbers`);
    const w = n.win32;
    const winNode = w === undefined ? "—" : w.nodeCode === code ? String(w.node) : `${w.node} (${w.nodeCode})`;
    const sys = w?.win32Errors === undefined ? "" : `; Win32 ${w.win32Errors.join(", ")}`;
    lines.push(
      `| \`${code}\` | ${num(n.linux?.errno)} | ${num(n.darwin?.errno)} | ${num(n.freebsd?.errno)} | ${num(w?.wsa)} | ${winNode}${sys} | ${cell(tables.errnoMessage(code) ?? "")} |`,
    );
  }
  return lines.join("\n");
}

const file = join(root, "docs", "errors.md");
const before = readFileSync(file, "utf8");
let after = before;
for (const [name, body] of [
  ["kinds", kindsTable()],
  ["codes", codesTable()],
  ["errno", errnoTable()],
]) {
  const start = `<!-- generated:${name}:start -->`;
  const end = `<!-- generated:${name}:end -->`;
  const i = after.indexOf(start);
  const j = after.indexOf(end);
  if (i < 0 || j < i) {
    process.stderr.write(`gen-errors-doc: docs/errors.md lacks the ${start} ... ${end} markers\n`);
    process.exit(2);
  }
  after = `${after.slice(0, i + start.length)}\n${body}\n${after.slice(j)}`;
}
if (values.check) {
  if (after !== before) {
    process.stderr.write("gen-errors-doc: docs/errors.md is out of date; run `node scripts/gen-errors-doc.mjs`\n");
    process.exit(1);
  }
} else if (after !== before) {
  writeFileSync(file, after);
  process.stderr.write("gen-errors-doc: docs/errors.md updated\n");
}
