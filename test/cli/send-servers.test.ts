/** `outlast send` with several servers: a comma-separated URL argument, the dead one skipped. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { closedPort } from "../helpers/capture-error.js";
import { jsonLines, run, startServe, tempDir } from "./cli-process.js";

test("send URL1,URL2: a dead server in the list is skipped, every message is delivered by the other", async (t) => {
  const dir = tempDir(t);
  const { serve, port } = await startServe(t);
  const dead = await closedPort();
  const lines = Array.from({ length: 200 }, (_, i) => `m${i}`);
  const send = await run(
    t,
    ["send", `tcp://127.0.0.1:${dead},tcp://127.0.0.1:${port}`, "--outbox", join(dir, "ob")],
    `${lines.join("\n")}\n`,
  );
  assert.equal(send.exit.code, 0, send.stderr);
  const got = await serve.until("200 lines", () => {
    const l = jsonLines(serve.stdout);
    return l.length >= 200 ? l : undefined;
  });
  assert.deepEqual(
    got.map((m) => m["data"]),
    lines,
  );
});

test("send: an invalid entry in the URL list is a usage error naming it", async (t) => {
  const r = await run(t, ["send", "tcp://127.0.0.1:1,http://x:2"]);
  assert.equal(r.exit.code, 2, r.stderr);
  assert.match(r.stderr, /must be tcp:\/\/HOST:PORT or tls:\/\/HOST:PORT, not "http:\/\/x:2"/);
});
