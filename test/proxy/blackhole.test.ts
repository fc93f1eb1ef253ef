import assert from "node:assert/strict";
import { test } from "node:test";
import type { FaultProxy } from "../../src/proxy/index.js";
import { ManualClock } from "../../src/errors/clock.js";
import { Recorder, assertNothingScheduled, connectClient, startProxy, startUpstream, within } from "./helpers.js";

/** Resolves once `faultApplied` fired `n` times. */
function appliedTimes(proxy: FaultProxy, n: number): Promise<void> {
  let seen = 0;
  return within(
    new Promise<void>((resolve) => {
      const on = (): void => {
        if (++seen < n) return;
        proxy.off("faultApplied", on);
        resolve();
      };
      proxy.on("faultApplied", on);
    }),
    5000,
    `${n} faultApplied events`,
  );
}

test("blackhole: bytes do not arrive and both sockets stay open; removing it lets them flow", async (t) => {
  const up = await startUpstream(t, "sink");
  const clock = new ManualClock();
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port }, clock });
  const client = await connectClient(t, port);
  const server = await up.accepted();
  const atServer = new Recorder(server);
  const atClient = new Recorder(client);
  const hole = proxy.addFault({ kind: "blackhole" });
  const bothHeld = appliedTimes(proxy, 2);
  client.write("into the void");
  server.write("and back");
  await bothHeld; // the proxy has read both writes and holds them
  assert.deepEqual(proxy.stats().bytes, { upstream: 0, downstream: 0 }, "nothing forwarded");
  assertNothingScheduled(clock);
  assert.equal(atServer.bytes, 0, "upstream received bytes through a blackhole");
  assert.equal(atClient.bytes, 0, "client received bytes through a blackhole");
  for (const [name, r] of [
    ["client", atClient],
    ["server", atServer],
  ] as const) {
    assert.equal(r.ended, false, `${name} saw end`);
    assert.equal(r.closed, false, `${name} saw close`);
    assert.equal(r.error, undefined, `${name} saw an error`);
  }
  assert.equal(proxy.connections().length, 1);
  assert.equal(proxy.stats().faults.blackhole, 2, "applied once per flow");
  hole.remove();
  await atServer.bytesAtLeast(13);
  await atClient.bytesAtLeast(8);
  assert.equal(atServer.text(), "into the void");
  assert.equal(atClient.text(), "and back");
  client.write("!");
  await atServer.bytesAtLeast(14);
});

test("blackhole upstream only: the client's close is not passed on (the half-open link) until it is removed", async (t) => {
  const up = await startUpstream(t, "sink");
  const clock = new ManualClock();
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port }, clock });
  const client = await connectClient(t, port);
  const server = await up.accepted();
  const atServer = new Recorder(server);
  const atClient = new Recorder(client);
  const hole = proxy.addFault({ kind: "blackhole", direction: "upstream" });
  server.write("still flowing down");
  await atClient.bytesAtLeast(18);
  const held = appliedTimes(proxy, 1);
  client.end("last words");
  await held;
  assert.equal(proxy.stats().bytes.upstream, 0, "nothing forwarded upstream");
  assertNothingScheduled(clock);
  assert.equal(atServer.bytes, 0);
  assert.equal(atServer.ended, false, "the server learnt of the client's FIN through a blackhole");
  assert.equal(atServer.closed, false);
  hole.remove();
  await atServer.endedOrClosed();
  assert.equal(atServer.text(), "last words");
  assert.equal(atServer.ended, true);
});

test("blackhole holds bytes with backpressure: the proxy stops reading, nothing is lost", async (t) => {
  const up = await startUpstream(t, "sink");
  const clock = new ManualClock();
  const { proxy, port } = await startProxy(t, { upstream: { host: "127.0.0.1", port: up.port }, clock });
  const client = await connectClient(t, port);
  const atServer = new Recorder(await up.accepted());
  const hole = proxy.addFault({ kind: "blackhole", direction: "upstream" });
  const total = 16 * 1024 * 1024;
  const payload = Buffer.alloc(total, 0x61);
  const held = appliedTimes(proxy, 1);
  client.write(payload);
  await held;
  assert.equal(proxy.stats().bytes.upstream, 0, "nothing forwarded upstream");
  assertNothingScheduled(clock);
  assert.equal(atServer.bytes, 0);
  assert.ok(client.writableLength > 0, "the client's writes should back up while the link is blackholed");
  hole.remove();
  await atServer.bytesAtLeast(total, 20_000);
  assert.equal(atServer.bytes, total);
});
