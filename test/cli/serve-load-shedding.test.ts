/**
 * `outlast serve --max-connections N --busy-retry-after D`: the flags reach the server (a
 * refused client gets OUTLAST_SERVER_BUSY with a hint jittered around D), a bad value names
 * the flag, and without --busy-retry-after a refused client is asked to wait ~5 minutes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SERVER_DEFAULTS } from "../../src/server/options.js";
import { RawClient, openClient } from "../helpers/raw-client.js";
import { run, startServe } from "./cli-process.js";

async function refusalHint(port: number): Promise<number> {
  const c = await RawClient.connect({ port });
  try {
    const err = await c.waitError();
    assert.equal(err.code, "OUTLAST_SERVER_BUSY");
    return err.retryAfterMs;
  } finally {
    c.destroy();
  }
}

test("serve --max-connections 1 --busy-retry-after 40s: the second client is refused with a 20-60 s hint", async (t) => {
  const { serve, port } = await startServe(t, ["--max-connections", "1", "--busy-retry-after", "40s"]);
  const held = await openClient(port, "held");
  t.after(() => held.client.destroy());
  const hint = await refusalHint(port);
  assert.ok(hint >= 20_000 && hint <= 60_000, `hint ${hint}`);
  serve.child.kill("SIGTERM");
  await serve.waitExit();
});

test("serve --max-connections 1 without --busy-retry-after: a refused client is asked to wait 2.5-7.5 minutes", async (t) => {
  assert.equal(SERVER_DEFAULTS.busyRetryAfterMs, 300_000);
  const { serve, port } = await startServe(t, ["--max-connections", "1"]);
  const held = await openClient(port, "held");
  t.after(() => held.client.destroy());
  const hint = await refusalHint(port);
  assert.ok(hint >= 150_000 && hint <= 450_000, `hint ${hint}`);
  serve.child.kill("SIGTERM");
  await serve.waitExit();
});

test("serve --max-connections and --busy-retry-after: a bad value names the flag (exit 2)", async (t) => {
  for (const [args, flag] of [
    [["--max-connections", "0"], "--max-connections"],
    [["--max-connections", "lots"], "--max-connections"],
    [["--max-connections", "1.5"], "--max-connections"],
    [["--busy-retry-after", "soon"], "--busy-retry-after"],
  ] as const) {
    const r = await run(t, ["serve", "--listen", "127.0.0.1:0", ...args]);
    assert.equal(r.exit.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^outlast serve: ${flag} must be`), r.stderr);
  }
});
