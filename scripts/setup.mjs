#!/usr/bin/env node
// Makes a fresh clone runnable: installs dependencies when they are missing or
// older than the lockfile, then type-checks and builds with tsc. Used by
// `npm test` and `npm run demo` so a newcomer types nothing else.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`outlast setup: \`${cmd} ${args.join(" ")}\` failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

const lock = join(root, "package-lock.json");
const installed = join(root, "node_modules", ".package-lock.json");
if (!existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs)) {
  process.stderr.write("outlast setup: installing dependencies (npm ci)\n");
  run(npm, ["ci", "--no-audit", "--no-fund"]);
}
process.stderr.write("outlast setup: type-checking and building (tsc)\n");
run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.json")]);
