import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, connect, type Socket } from "node:net";
import { test } from "node:test";
import { Heartbeat } from "../../src/client/heartbeat.js";
import { ManualClock, systemClock } from "../../src/errors/clock.js";
import type { OutlastError } from "../../src/errors/outlast-error.js";
import { isOutlastError } from "../../src/errors/outlast-error.js";

function setup(intervalMs = 2000, timeoutMs = 6000, random = () => 0.5, serverBeats = false) {
  const clock = new ManualClock(1000);
  const pings: number[] = [];
  const timeouts: OutlastError[] = [];
  const hb = new Heartbeat({
    clock,
    intervalMs,
    timeoutMs,
    ping: (nonce) => pings.push(nonce),
    onTimeout: (err) => timeouts.push(err),
    random,
    serverBeats,
    afterPendingReads: (then) => then(),
  });
  return { clock, pings, timeouts, hb };
}

test("heartbeat: pings after intervalMs of silence, then every intervalMs, dead at timeoutMs", () => {
  const { clock, pings, timeouts } = setup();
  clock.advance(1999);
  assert.deepEqual(pings, []);
  clock.advance(1);
  assert.deepEqual(pings, [1], "first ping at 2000 ms of silence");
  clock.advance(2000);
  assert.deepEqual(pings, [1, 2]);
  clock.advance(1999);
  assert.equal(timeouts.length, 0, "not dead before 6000 ms");
  clock.advance(1);
  assert.equal(timeouts.length, 1);
  const err = timeouts[0];
  assert.ok(isOutlastError(err, "OUTLAST_HEARTBEAT_TIMEOUT"));
  assert.deepEqual(err.details, { timeoutMs: 6000, silentMs: 6000 });
  assert.equal(err.cause, undefined);
  assert.equal(clock.pending, 0, "no timer left after the timeout");
  clock.advance(60_000);
  assert.equal(timeouts.length, 1, "reported once");
});

test("heartbeat: anything heard postpones both the ping and the deadline", () => {
  const { clock, pings, timeouts, hb } = setup();
  for (let i = 0; i < 10; i++) {
    clock.advance(1500);
    hb.heard();
  }
  assert.deepEqual(pings, [], "a busy link is never pinged");
  assert.equal(timeouts.length, 0);
  clock.advance(2000);
  assert.deepEqual(pings, [1]);
  clock.advance(1000);
  hb.heard(); // the PONG
  clock.advance(5999);
  assert.equal(timeouts.length, 0);
  clock.advance(1);
  assert.equal(timeouts.length, 1, "dead exactly timeoutMs after the last byte");
});

test("heartbeat, server beats: no ping on silence; receive silence of timeoutMs is still dead", () => {
  const { clock, pings, timeouts, hb } = setup(2000, 6000, () => 0.5, true);
  for (let i = 0; i < 10; i++) {
    clock.advance(1900); // a beat every 1.9 s
    hb.heard();
  }
  assert.deepEqual(pings, [], "the server's beats need no ping");
  assert.ok(clock.pending <= 1, "one timer");
  clock.advance(5999);
  assert.equal(timeouts.length, 0);
  clock.advance(1);
  assert.equal(timeouts.length, 1);
  assert.match(timeouts[0]?.message ?? "", /no byte from the server for 6000 ms/);
  assert.deepEqual(pings, []);
});

test("heartbeat, server beats: while owed an answer it pings after intervalMs, and is dead after timeoutMs without one", () => {
  const { clock, pings, timeouts, hb } = setup(2000, 6000, () => 0.5, true);
  clock.advance(500);
  hb.owe(); // a MESSAGE went out at 500
  clock.advance(1000);
  hb.answered(false); // its ACK: nothing owed any more
  clock.advance(1000);
  hb.heard(); // beats keep coming
  hb.owe(); // another MESSAGE at 2500; its ACK never comes (the link is dead toward the server)
  clock.advance(1999);
  hb.heard();
  assert.deepEqual(pings, []);
  clock.advance(1);
  assert.deepEqual(pings, [1], "ping at intervalMs without an answer");
  clock.advance(2000);
  hb.heard();
  assert.deepEqual(pings, [1, 2]);
  clock.advance(1999);
  hb.heard(); // beats still arrive: the link is alive toward the client only
  assert.equal(timeouts.length, 0);
  clock.advance(1);
  assert.equal(timeouts.length, 1, "dead timeoutMs after the answer became owed, beats notwithstanding");
  const err = timeouts[0];
  assert.ok(isOutlastError(err, "OUTLAST_HEARTBEAT_TIMEOUT"));
  assert.match(err.message, /no answer from the server for 6000 ms .* dead toward the server/);
  assert.deepEqual(err.details, { timeoutMs: 6000, silentMs: 6000 });
});

test("heartbeat, server beats: a PONG to our ping (a slow handler, a live server) postpones the verdict", () => {
  const { clock, pings, timeouts, hb } = setup(2000, 6000, () => 0.5, true);
  hb.owe();
  for (let round = 1; round <= 5; round++) {
    clock.advance(2000);
    assert.equal(pings.length, round, `ping ${round}`);
    clock.advance(100);
    hb.heard();
    hb.answered(true); // the PONG; the ACK is still owed
  }
  assert.equal(timeouts.length, 0, "10.5 s without an ACK, but every ping answered");
});

test("heartbeat: stop() clears its timer; nothing fires afterwards", () => {
  const { clock, pings, timeouts, hb } = setup(100, 300);
  assert.equal(clock.pending, 1, "one timer per connection");
  hb.stop();
  assert.equal(clock.pending, 0);
  clock.advance(10_000);
  assert.deepEqual(pings, []);
  assert.equal(timeouts.length, 0);
});

test("heartbeat: only one timer is pending at any time", () => {
  const { clock, hb } = setup(100, 350);
  for (let t = 0; t < 340; t += 10) {
    clock.advance(10);
    assert.ok(clock.pending <= 1, `at ${t} ms: ${clock.pending} timers`);
  }
  assert.equal(hb.pings, 3);
});

test("heartbeat: each wait before a ping is jittered within 10% of intervalMs, so a fleet does not ping in lockstep", () => {
  const draws = [0, 0.999, 0.25];
  const { clock, pings } = setup(1000, 10_000, () => draws.shift() ?? 0.5);
  clock.advance(899);
  assert.deepEqual(pings, [], "the earliest first ping is at 0.9 x intervalMs");
  clock.advance(1);
  assert.deepEqual(pings, [1], "first ping at 900 ms (random 0)");
  clock.advance(1099);
  assert.deepEqual(pings, [1]);
  clock.advance(1);
  assert.deepEqual(pings, [1, 2], "second ping 1100 ms later (random 0.999)");
  clock.advance(950);
  assert.deepEqual(pings, [1, 2, 3], "third 950 ms later (random 0.25)");
});

test("heartbeat: a byte that arrived while the event loop was blocked past the deadline keeps the link alive", async (t) => {
  // Node runs due timers before it reads sockets: the verdict must wait for the reads.
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const { port } = server.address() as { port: number };
  const client = connect(port, "127.0.0.1");
  await once(client, "connect");
  const [peer] = await accepted;
  t.after(() => {
    client.destroy();
    peer.destroy();
  });

  const run = async (afterPendingReads?: (then: () => void) => void): Promise<number> => {
    const timeouts: OutlastError[] = [];
    const hb = new Heartbeat({
      clock: systemClock,
      intervalMs: 50,
      timeoutMs: 100,
      ping: () => {},
      onTimeout: (err) => timeouts.push(err),
      ...(afterPendingReads === undefined ? {} : { afterPendingReads }),
    });
    const arrived = once(client, "data");
    client.once("data", () => hb.heard());
    peer.write("x");
    // The block itself is the scenario (a busy burst, a GC pause): the byte lands during it.
    const until = performance.now() + 150;
    while (performance.now() < until);
    await arrived;
    // The deferred verdict was queued (check phase) before this one.
    await new Promise((resolve) => setImmediate(resolve));
    hb.stop();
    return timeouts.length;
  };

  assert.equal(await run(), 0, "the byte read after the block counts: no timeout");
  assert.equal(await run((then) => then()), 1, "judged before the reads (the old behaviour), the live link is dead");
});
