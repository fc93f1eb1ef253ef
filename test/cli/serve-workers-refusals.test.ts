/**
 * `outlast serve --workers N`: what is refused, naming the flag, and losing nothing.
 * The --state layout checks (serve-workers-state.ts) in process; a bad value, stdout,
 * TLS, --forward and a --state of another layout through the real binary.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { prepareWorkersState, WORKERS_FILE } from "../../src/cli/commands/serve-workers-state.js";
import { run, tempDir } from "./cli-process.js";

const FLAGS = { workersSource: "--workers", stateSource: "--state" };

/** Every file under `dir` with its content: what a refusal must leave as it was. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name);
    out[path] = e.isFile() ? readFileSync(path, "latin1") : "<dir>";
  }
  return out;
}

test("the --state layout: recorded at the first start, the same N again is accepted, another N or none is refused and nothing changes", async (t) => {
  const dir = join(tempDir(t), "state");
  await prepareWorkersState(dir, 3, FLAGS);
  assert.equal(readFileSync(join(dir, WORKERS_FILE), "latin1"), "outlast-workers 1\nworkers 3\n");
  assert.deepEqual(readdirSync(dir), [WORKERS_FILE], "no temporary file left");
  await prepareWorkersState(dir, 3, FLAGS);
  const before = snapshot(dir);
  await assert.rejects(prepareWorkersState(dir, 2, FLAGS), {
    message: new RegExp(
      `^--state ${dir} is laid out for --workers 3 \\(.*\\), not started with --workers 2: .*; pass --workers 3, or another --state$`,
    ),
  });
  await assert.rejects(prepareWorkersState(dir, 1, FLAGS), {
    message:
      /is laid out for --workers 3 \(.*\), not started as one process \(no --workers, or --workers 1\): .*pass --workers 3, or another --state$/,
  });
  assert.deepEqual(snapshot(dir), before);
});

test("the --state layout: a single server's state is refused with --workers; a missing or empty directory is laid out", async (t) => {
  const root = tempDir(t);
  const single = join(root, "single");
  mkdirSync(single);
  writeFileSync(join(single, "seg-0000000001.log"), "x");
  writeFileSync(join(single, "slots"), "y");
  const before = snapshot(single);
  await assert.rejects(prepareWorkersState(single, 2, FLAGS), {
    message:
      /holds a single server's state \(.*\), not a --workers layout: splitting .* across 2 processes would lose it; start without --workers on it, or pass an empty or new --state$/,
  });
  assert.deepEqual(snapshot(single), before);
  await prepareWorkersState(single, 1, FLAGS); // a single server on its own state: accepted, untouched
  assert.deepEqual(snapshot(single), before);

  const empty = join(root, "empty");
  mkdirSync(empty);
  await prepareWorkersState(empty, 2, FLAGS);
  assert.deepEqual(readdirSync(empty), [WORKERS_FILE]);
  await prepareWorkersState(join(root, "missing"), 1, FLAGS);
  assert.deepEqual(readdirSync(root).sort(), ["empty", "single"], "one process creates nothing here");
});

test("the --state layout: two first starts at once with different N agree on one", async (t) => {
  const dir = join(tempDir(t), "state");
  const [a, b] = await Promise.allSettled([prepareWorkersState(dir, 2, FLAGS), prepareWorkersState(dir, 5, FLAGS)]);
  assert.equal([a, b].filter((r) => r.status === "fulfilled").length, 1, JSON.stringify([a, b]));
  const recorded = a.status === "fulfilled" ? 2 : 5;
  assert.equal(readFileSync(join(dir, WORKERS_FILE), "latin1"), `outlast-workers 1\nworkers ${recorded}\n`);
});

test("bad --workers values, stdout, TLS and --forward are usage errors naming the flag; nothing is created", async (t) => {
  const dir = tempDir(t);
  const out = join(dir, "out.jsonl");
  const state = join(dir, "state");
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--workers", "0"], {}, /--workers must be a whole number from 1 to 1024, not "0"/],
    [["--workers", "two"], {}, /--workers must be a whole number from 1 to 1024, not "two"/],
    [["--workers", "1.5"], {}, /--workers must be a whole number from 1 to 1024, not "1.5"/],
    [[], { OUTLAST_WORKERS: "99999" }, /OUTLAST_WORKERS must be a whole number from 1 to 1024, not "99999"/],
    [["--workers", "2", "--state", state], {}, /--workers 2 needs --output FILE: several processes writing one pipe/],
    [["--workers", "2", "--output", "-"], {}, /--workers 2 needs --output FILE/],
    [
      ["--workers", "2", "--output", out, "--tls-cert", "c.pem", "--tls-key", "k.pem"],
      {},
      /--workers 2 cannot serve TLS \(--tls-cert\): the first process reads each client's HELLO/,
    ],
    [
      ["--forward", "nats://127.0.0.1:4222", "--stream", "S"],
      { OUTLAST_WORKERS: "3" },
      /OUTLAST_WORKERS 3 cannot be used with --forward: a gateway runs as one process/,
    ],
  ];
  const toml = join(dir, "serve.toml");
  writeFileSync(toml, "workers = 0\n");
  cases.push([["--config", toml], {}, /key "workers" in .*serve\.toml must be a whole number from 1 to 1024, not "0"/]);
  for (const [args, env, message] of cases) {
    const r = await run(t, ["serve", "--listen", "127.0.0.1:0", ...args], "", env);
    assert.equal(r.exit.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.deepEqual(readdirSync(dir), ["serve.toml"], "no state directory or output file created");
});

test("serve refuses a --state of the other layout (exit 1, naming --workers and --state) and changes nothing", async (t) => {
  const dir = tempDir(t);
  const out = join(dir, "out.jsonl");
  writeFileSync(out, '{"clientId":"a","seq":1,"data":"kept"}\n');
  const pooled = join(dir, "pooled");
  await prepareWorkersState(pooled, 2, FLAGS);
  mkdirSync(join(pooled, "worker-0"));
  writeFileSync(join(pooled, "worker-0", "slots"), "state of worker 0");
  const single = join(dir, "single");
  mkdirSync(single);
  writeFileSync(join(single, "seg-0000000001.log"), "state of a single server");
  const before = snapshot(dir);

  const alone = await run(t, ["serve", "--listen", "127.0.0.1:0", "--state", pooled, "--output", out]);
  assert.equal(alone.exit.code, 1, alone.stderr);
  assert.match(alone.stderr, /--state .*pooled is laid out for --workers 2 .*not started as one process/);
  const other = await run(t, ["serve", "--listen", "127.0.0.1:0", "--state", pooled, "--output", out], "", {
    OUTLAST_WORKERS: "3",
  });
  assert.equal(other.exit.code, 1, other.stderr);
  assert.match(other.stderr, /--state .*pooled is laid out for OUTLAST_WORKERS 2 .*not started with OUTLAST_WORKERS 3/);
  const split = await run(t, ["serve", "--workers", "2", "--state", single, "--output", out]);
  assert.equal(split.exit.code, 1, split.stderr);
  assert.match(split.stderr, /--state .*single holds a single server's state .*start without --workers on it/);
  assert.deepEqual(snapshot(dir), before, "the state directories and the output are as they were");
});

test("--workers 2 refuses an --output that is a pipe (a FIFO), naming --output", async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, "fifo");
  const made = spawnSync("mkfifo", [fifo]);
  if (made.status !== 0) return t.skip(`mkfifo is not available: ${String(made.error ?? made.stderr)}`);
  // A reader, so that opening the FIFO for writing does not wait for one.
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  t.after(() => closeSync(reader));
  const r = await run(t, ["serve", "--listen", "127.0.0.1:0", "--workers", "2", "--output", fifo]);
  assert.equal(r.exit.code, 1, r.stderr);
  assert.match(r.stderr, /--workers 2 needs --output to be a file: .*fifo is a pipe, and several processes/);
});
