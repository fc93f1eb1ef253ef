/**
 * `outlast send --metrics` (a robot's supervisor alerts on a growing outbox) and
 * `--log-format json` for send and proxy: every stderr line is one JSON object.
 */
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { start, tempDir } from "./cli-process.js";
import { get, scrapeUntil } from "./ops-helpers.js";

function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

test("send --metrics: queue depth, oldest age and refused reconnects while the server is down; delivered once it is up", async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const send = start(
    t,
    [
      "send",
      `tcp://127.0.0.1:${port}`,
      "--outbox",
      join(dir, "outbox"),
      "--metrics",
      "127.0.0.1:0",
      "--log-format",
      "json",
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  send.child.stdin?.end("a\nb\nc\nd\ne\n");
  const url = (await send.stderrLine(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/))[1] as string;
  const down = await scrapeUntil(
    url,
    "5 queued messages and a refused connection",
    (m) =>
      m.get("outlast_client_queued_messages") === 5 &&
      (m.get('outlast_client_reconnects_total{kind="refused"}') ?? 0) >= 1,
  );
  assert.equal(down.get("outlast_client_connected"), 0);
  assert.ok((down.get("outlast_client_oldest_queued_seconds") ?? 0) >= 0);
  assert.equal(down.get("outlast_client_acknowledged_total"), 0);
  assert.equal((await get(`${url}/readyz`)).status, 503);
  assert.equal((await get(`${url}/healthz`)).status, 200);

  const serve = start(t, ["serve", "--listen", `127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
  await serve.stderrLine(/listening on/);
  assert.equal((await send.waitExit()).code, 0, send.stderr);
  const lines = jsonLines(send.stderr);
  for (const l of lines) {
    assert.ok(typeof l["level"] === "string" && typeof l["time"] === "string" && typeof l["msg"] === "string");
    assert.equal(l["command"], "send");
  }
  assert.ok(
    lines.some((l) => /5 messages acknowledged/.test(String(l["msg"]))),
    send.stderr,
  );
  serve.child.kill("SIGTERM");
  await serve.waitExit();
});

test("proxy --log-format json --verbose: connection lines are JSON", async (t) => {
  const serve = start(t, ["serve", "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  const port = Number((await serve.stderrLine(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/))[1]);
  const proxy = start(t, ["proxy", "--upstream", `127.0.0.1:${port}`, "--log-format", "json", "--verbose"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proxyPort = Number((await proxy.stderrLine(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/))[1]);
  const dir = tempDir(t);
  const send = start(t, ["send", `tcp://127.0.0.1:${proxyPort}`, "--outbox", join(dir, "o")], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  send.child.stdin?.end("x\n");
  assert.equal((await send.waitExit()).code, 0, send.stderr);
  await proxy.stderrLine(/connection \d+ closed/);
  proxy.child.kill("SIGTERM");
  assert.equal((await proxy.waitExit()).code, 0);
  const lines = jsonLines(proxy.stderr);
  assert.ok(lines.some((l) => /^connection \d+ opened from 127\.0\.0\.1:\d+$/.test(String(l["msg"]))));
  assert.ok(lines.every((l) => l["command"] === "proxy" && typeof l["level"] === "string"));
  serve.child.kill("SIGTERM");
  await serve.waitExit();
});
