#!/usr/bin/env node
// Makes a fresh clone runnable: installs dependencies when they are missing or
// older than the lockfile, then type-checks and builds with tsc. Used by
// `npm test`, `npm run demo` and the other scripts so a newcomer types nothing
// else, and as `prepare`, so `npm install git+https://...` gets a built package.
//
// An up-to-date build is skipped: after a successful tsc it writes
// dist/.build-stamp holding the time the build started; the next run rebuilds
// only when a file or directory under src/, test/, bench/ (or tsconfig.json,
// package.json, package-lock.json) changed after that time, or the stamp or the
// binary is missing. `--force` always rebuilds.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const stampFile = join(root, "dist", ".build-stamp");

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`outlast setup: \`${cmd} ${args.join(" ")}\` failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

/** The newest mtime (ms) of `path` and, for a directory, of everything under it. */
function newestMtimeMs(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  let newest = st.mtimeMs;
  if (st.isDirectory())
    for (const name of readdirSync(path)) newest = Math.max(newest, newestMtimeMs(join(path, name)));
  return newest;
}

/** True when dist/ was built after the last change to anything the build reads. */
function upToDate() {
  if (process.argv.includes("--force")) return false;
  if (!existsSync(join(root, "dist", "src", "cli", "main.js"))) return false;
  let builtAtMs;
  try {
    builtAtMs = Number(readFileSync(stampFile, "utf8"));
  } catch {
    return false;
  }
  if (!Number.isFinite(builtAtMs)) return false;
  const inputs = ["src", "test", "bench", "tsconfig.json", "package.json", "package-lock.json"];
  return inputs.every((p) => newestMtimeMs(join(root, p)) < builtAtMs);
}

// As `prepare`, npm itself is installing: never run npm ci from inside it.
const insideNpmInstall = process.env.npm_lifecycle_event === "prepare";
const lock = join(root, "package-lock.json");
const installed = join(root, "node_modules", ".package-lock.json");
if (
  !insideNpmInstall &&
  (!existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs))
) {
  process.stderr.write("outlast setup: installing dependencies (npm ci)\n");
  run(npm, ["ci", "--no-audit", "--no-fund"]);
}
if (upToDate()) {
  process.stderr.write("outlast setup: the build is up to date (node scripts/setup.mjs --force rebuilds)\n");
} else {
  process.stderr.write("outlast setup: type-checking and building (tsc)\n");
  const startedMs = Date.now();
  // A fresh dist/: tsc never deletes the output of a source file that was moved or removed, and a stale
  // file would be run by the tests and packed (with a source map pointing at a file that is gone).
  rmSync(join(root, "dist"), { recursive: true, force: true });
  run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.json")]);
  writeFileSync(stampFile, String(startedMs));
}
