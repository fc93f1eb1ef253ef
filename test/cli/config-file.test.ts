/**
 * --config FILE: JSON and TOML, keys are the flag names, precedence flag > env > file,
 * validation naming the key; and a real `outlast serve --config` run.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { UsageError } from "../../src/cli/command.js";
import { parseDurationMs, readOptions } from "../../src/cli/config.js";
import { run, start, tempDir } from "./cli-process.js";
import { get } from "./ops-helpers.js";

const SPECS = {
  state: { type: "string" },
  "idle-timeout": { type: "string" },
  "max-frame-bytes": { type: "string" },
  listen: { type: "string" },
  fast: { type: "boolean" },
} as const;

test("precedence: a flag wins over OUTLAST_*, which wins over the file; the file wins over the default", (t) => {
  const dir = tempDir(t);
  const file = join(dir, "outlast.toml");
  writeFileSync(
    file,
    [
      'state = "/file"',
      '"idle-timeout" = "9s"',
      '"max-frame-bytes" = 65536',
      "fast = true",
      'listen = "0.0.0.0:1"',
    ].join("\n"),
  );
  const env = { OUTLAST_IDLE_TIMEOUT: "5s", OUTLAST_LISTEN: "127.0.0.1:2" };
  const r = readOptions(["--config", file, "--listen", "127.0.0.1:3"], SPECS, { env });
  assert.equal(r.values.listen, "127.0.0.1:3", "flag > env > file");
  assert.equal(r.source("listen"), "--listen");
  assert.equal(r.values["idle-timeout"], "5s", "env > file");
  assert.equal(r.source("idle-timeout"), "OUTLAST_IDLE_TIMEOUT");
  assert.equal(r.values.state, "/file", "file > default");
  assert.equal(r.source("state"), `key "state" in ${file}`);
  assert.equal(r.values["max-frame-bytes"], "65536", "a number is read as its text");
  assert.equal(r.values.fast, true);

  // OUTLAST_CONFIG names the file when --config is absent.
  const viaEnv = readOptions([], SPECS, { env: { OUTLAST_CONFIG: file } });
  assert.equal(viaEnv.values.state, "/file");
  // A value from the file that fails its parser names the key and the file.
  const json = join(dir, "outlast.json");
  writeFileSync(json, JSON.stringify({ "idle-timeout": "soon" }));
  const bad = readOptions(["--config", json], SPECS, { env: {} });
  assert.throws(
    () => parseDurationMs(bad.values["idle-timeout"] ?? "", bad.source("idle-timeout")),
    (err: Error) => err instanceof UsageError && err.message.startsWith(`key "idle-timeout" in ${json} must be`),
  );
});

test("validation: unknown keys (with a suggestion), wrong types, nested tables, bad syntax, a missing file", (t) => {
  const dir = tempDir(t);
  const cases: [string, string, RegExp][] = [
    [
      "a.json",
      JSON.stringify({ "idle-timout": "5s" }),
      /unknown key "idle-timout" in .*a\.json \(did you mean "idle-timeout"\?\); the keys are the flag names: .*state/,
    ],
    ["b.json", JSON.stringify({ fast: "yes" }), /key "fast" in .*b\.json must be true or false, not string "yes"/],
    ["c.toml", "state = 5\n[listen]\nhost = 'x'\n", /key "listen" in .*c\.toml must be a string, not a table\/object/],
    ["d.json", "{ state: ", /--config .*d\.json is not valid JSON/],
    ["e.toml", "state = = 1", /--config .*e\.toml is not valid TOML/],
    ["f.json", "[1, 2]", /--config .*f\.json must hold one object of options/],
    ["g.json", JSON.stringify({ help: true }), /unknown key "help"/],
  ];
  for (const [name, text, re] of cases) {
    const file = join(dir, name);
    writeFileSync(file, text);
    assert.throws(
      () => readOptions(["--config", file], SPECS, { env: {} }),
      (err: Error) => err instanceof UsageError && re.test(err.message),
      name,
    );
  }
  assert.throws(
    () => readOptions(["--config", join(dir, "missing.toml")], SPECS, { env: {} }),
    /--config .*missing\.toml does not exist/,
  );
});

test("outlast serve --config FILE.toml: every option from the file, a flag still wins; a bad key exits 2 naming it", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "serve.toml");
  writeFileSync(
    file,
    [
      'listen = "127.0.0.1:0"',
      `state = ${JSON.stringify(join(dir, "state"))}`,
      'metrics = "127.0.0.1:0"',
      '"log-format" = "json"',
      '"idle-timeout" = "40s"',
      '"drain-timeout" = "10s"',
    ].join("\n"),
  );
  const serve = start(t, ["serve", "--config", file, "--log-format", "human"], { stdio: ["ignore", "pipe", "pipe"] });
  const metrics = (
    await serve.stderrLine(/^outlast serve: metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/)
  )[1] as string;
  await serve.stderrLine(/^outlast serve: listening on tcp:\/\/127\.0\.0\.1:\d+$/);
  const ready = await get(`${metrics}/readyz`);
  assert.match(ready.body, /ok state: .*state open/, "state from the file");
  serve.child.kill("SIGTERM");
  assert.equal((await serve.waitExit()).code, 0);

  const badFile = join(dir, "bad.toml");
  writeFileSync(badFile, '"drain-window" = "30s"\n"drain-timeout" = "10s"\n');
  const bad = await run(t, ["serve", "--config", badFile]);
  assert.equal(bad.exit.code, 2);
  assert.match(
    bad.stderr,
    /key "drain-window" in .*bad\.toml \(30s\) must be shorter than key "drain-timeout" in .*bad\.toml/,
  );
});
