/**
 * Load shedding: a full server refuses with OUTLAST_SERVER_BUSY and a jittered
 * retryAfterMs around busyRetryAfterMs; refused sockets are destroyed after the
 * linger on the injected clock; the default maxConnections follows the process's
 * file-descriptor limit, so a server short of descriptors still answers with a code.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { ManualClock } from "../../src/errors/clock.js";
import { defaultMaxConnections, fdReserve, hardConnectionLimit } from "../../src/server/fd-limit.js";
import { createServer } from "../../src/server/index.js";
import { RawClient, openClient } from "../helpers/raw-client.js";

test("a full server refuses with OUTLAST_SERVER_BUSY, retryAfterMs jittered over 0.5-1.5 x busyRetryAfterMs, and counts it", async (t) => {
  const server = createServer({ onMessage: () => {}, maxConnections: 1, busyRetryAfterMs: 10_000 });
  t.after(() => server.destroy());
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const held = await openClient(port, "held");
  t.after(() => held.client.destroy());
  const hints: number[] = [];
  for (let i = 0; i < 12; i++) {
    const c = await RawClient.connect({ port });
    const err = await c.waitError();
    assert.equal(err.code, "OUTLAST_SERVER_BUSY");
    hints.push(err.retryAfterMs);
    c.destroy();
  }
  assert.ok(
    hints.every((ms) => ms >= 5000 && ms <= 15_000),
    `hints ${hints.join(" ")}`,
  );
  assert.ok(new Set(hints).size > 1, `jittered: ${hints.join(" ")}`);
  assert.equal(server.stats().busyRejected, 12);
});

test("a refused socket whose peer never closes is destroyed after the linger (injected clock)", async (t) => {
  const clock = new ManualClock();
  const server = createServer({ onMessage: () => {}, maxConnections: 1, clock });
  t.after(() => server.destroy());
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const held = await openClient(port, "held");
  t.after(() => held.client.destroy());
  const socket: Socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  const ended = new Promise((resolve) => socket.once("end", resolve)); // our ERROR and FIN arrived
  socket.resume();
  await ended;
  const closed = new Promise((resolve) => socket.once("close", resolve));
  // We never end our side: only the server's linger can close the connection.
  clock.advance(2000);
  await closed;
  assert.equal(server.stats().busyRejected, 1);
});

test("the default maxConnections is the file-descriptor limit minus a reserve (5%, at least 64)", () => {
  assert.equal(defaultMaxConnections(20_000), 19_000);
  assert.equal(defaultMaxConnections(1024), 960);
  assert.equal(fdReserve(100), 64);
  assert.equal(defaultMaxConnections(50), 1);
});

test("a server short of file descriptors (ulimit -n 200) refuses the excess with OUTLAST_SERVER_BUSY, not in silence", async (t) => {
  const fixture = join(import.meta.dirname, "fixtures", "fd-limited-server.js");
  const child = spawn("sh", ["-c", `ulimit -n 200 && exec "${process.execPath}" "${fixture}"`], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => child.kill("SIGKILL"));
  const first = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(d.toString()));
    child.once("exit", (code) => reject(new Error(`fixture exited (${code})`)));
  });
  const [, portText, maxText] = /port (\d+) maxConnections (\d+)/.exec(first) ?? [];
  const port = Number(portText);
  const maxConnections = Number(maxText);
  assert.equal(maxConnections, 200 - 64, "the default follows the limit");
  const clients: RawClient[] = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  for (let i = 0; i < maxConnections; i++) clients.push((await openClient(port, `c${i}`)).client);
  const codes: string[] = [];
  for (let i = 0; i < 20; i++) {
    const c = await RawClient.connect({ port });
    clients.push(c);
    codes.push((await c.waitError()).code);
  }
  assert.deepEqual(new Set(codes), new Set(["OUTLAST_SERVER_BUSY"]), "every refusal carries the code");
});

test("past the hard limit (the fd limit minus half the reserve) a connection is closed without a Socket and counted in fdRefused", async (t) => {
  const fixture = join(import.meta.dirname, "fixtures", "fd-limited-server.js");
  const child = spawn("sh", ["-c", `ulimit -n 200 && exec "${process.execPath}" "${fixture}"`], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, OUTLAST_FIXTURE_FROZEN_CLOCK: "1" }, // refused sockets linger until the end
  });
  t.after(() => child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  const [, portText, maxText] = /port (\d+) maxConnections (\d+)/.exec(String(first.value)) ?? [];
  const port = Number(portText);
  const maxConnections = Number(maxText);
  const hard = hardConnectionLimit(maxConnections, 200) as number;
  assert.equal(hard, 200 - 32, "half the reserve (64) above maxConnections");
  const clients: RawClient[] = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  for (let i = 0; i < maxConnections; i++) clients.push((await openClient(port, `c${i}`)).client);
  let busy = 0;
  for (;;) {
    const c = await RawClient.connect({ port });
    clients.push(c);
    await c.waitClosed();
    const frame = c.received[0];
    if (frame === undefined) break; // closed without a frame: the hard limit
    assert.equal(frame.type === "error" ? frame.code : frame.type, "OUTLAST_SERVER_BUSY");
    busy++;
    assert.ok(busy <= hard - maxConnections, `${busy} refusals with a frame, past the hard limit`);
  }
  assert.equal(busy, hard - maxConnections, "every refusal under the hard limit carries the code");
  child.stdin.write("stats\n");
  const stats = JSON.parse(String((await lines.next()).value).replace(/^stats /, "")) as Record<string, number>;
  assert.equal(stats["fdRefused"], 1);
  assert.equal(stats["busyRejected"], busy);
});
