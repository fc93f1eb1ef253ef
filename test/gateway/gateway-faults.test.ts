/**
 * The gateway's promises under faults, against a real 3-node cluster: a resend after
 * the stream's duplicate window is not stored again; two gateways racing for one client
 * store each seq once, in order; NATS lost later stops acknowledgements until it is back.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { classify } from "../../src/errors/classify.js";
import { SharedCluster } from "./shared-cluster.js";
import { checkStream, readStream } from "../helpers/nats-stream.js";
import { RawClient, openClient } from "../helpers/raw-client.js";

const shared = new SharedCluster("gateway fault tests");
const { skip } = shared;

test("a resend after the stream's duplicate window (1 s) is not stored again", { skip }, async (t) => {
  const a = await shared.startGateway("WINDOW", { duplicateWindowMs: 1000 });
  const b = await shared.startGateway("WINDOW");
  t.after(() => Promise.all([a.gateway.destroy(), b.gateway.destroy()]));
  // A link on gateway A whose view of the client is "nothing stored" ...
  const stale = await openClient(a.port, "r1");
  t.after(() => stale.client.destroy());
  assert.equal(stale.welcome.lastSeq, 0);
  // ... while the client, on gateway B, stores 1..5 (a client that moved, its old link still open).
  const fresh = await openClient(b.port, "r1");
  t.after(() => fresh.client.destroy());
  fresh.client.sendMessages(1, 5);
  await fresh.client.waitAck(5);
  // Let the duplicate window pass: the msg ids of 1..5 are forgotten by JetStream from here on.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  // The old link resends seq 1: JetStream's msg-id dedup no longer covers it; the expected last
  // subject sequence does. Gateway A learns the mark and acknowledges the resend without storing it.
  stale.client.sendMessages(1, 1);
  await stale.client.waitAck(1, 15_000);
  // A client that reconnects after the window is told lastSeq 5 and resends nothing.
  const later = await openClient(a.port, "r1");
  t.after(() => later.client.destroy());
  assert.equal(later.welcome.lastSeq, 5);
  const records = await readStream(shared.cluster.urls, "WINDOW");
  assert.deepEqual(
    records.map((r) => r.seq),
    [1, 2, 3, 4, 5],
  );
});

test("two gateways racing for one client: each seq stored once, in order", { skip }, async (t) => {
  const a = await shared.startGateway("RACE");
  const b = await shared.startGateway("RACE");
  t.after(() => Promise.all([a.gateway.destroy(), b.gateway.destroy()]));
  const count = 3000;
  for (let round = 0; round < 3; round++) {
    const id = `racer-${round}`;
    // The client sends everything to A and leaves at once (A reads it all and publishes with
    // nobody to acknowledge), and resends from B's WELCOME on: both gateways publish the same
    // seqs at once.
    const first = await openClient(a.port, id);
    first.client.sendMessages(1, count);
    first.client.socket.end();
    const second = await openClient(b.port, id);
    t.after(() => second.client.destroy());
    const from = second.welcome.lastSeq + 1;
    t.diagnostic(`${id}: gateway B took over at seq ${from} of ${count}`);
    if (from <= count) {
      second.client.sendMessages(from, count - from + 1);
      await second.client.waitAck(count, 30_000);
    }
  }
  const records = await readStream(shared.cluster.urls, "RACE");
  const all = Array.from({ length: count }, (_, i) => i + 1);
  const check = checkStream(records, new Map([0, 1, 2].map((r) => [`racer-${r}`, all])));
  assert.deepEqual([check.lost, check.duplicated, check.reordered], [[], [], []]);
  assert.equal(records.length, 3 * count);
});

test(
  "NATS lost later: the gateway acknowledges nothing until it is back, turns new clients away, then resumes",
  { skip },
  async (t) => {
    const { gateway, port } = await shared.startGateway("LOST", { publishTimeoutMs: 1000 });
    t.after(() => gateway.destroy());
    const natsErrors: unknown[] = [];
    gateway.on("natsError", (err, info) => {
      natsErrors.push(err);
      assert.equal(info.failure.kind, "transient", `${String(err)} judged ${JSON.stringify(info.failure)}`);
    });
    // On a loaded machine the first mark read may time out: the gateway then turns the client
    // away with OUTLAST_SERVER_BUSY (retry later), and a client retries, as this one does.
    let opened: Awaited<ReturnType<typeof openClient>> | undefined;
    for (let attempt = 0; opened === undefined; attempt++) {
      try {
        opened = await openClient(port, "lost-1", { heartbeatIntervalMs: 1000 });
      } catch (err) {
        if (attempt >= 10 || !/OUTLAST_SERVER_BUSY/.test(String(err))) throw err;
      }
    }
    const raw = opened;
    t.after(() => raw.client.destroy());
    raw.client.sendMessages(1, 3);
    await raw.client.waitAck(3);
    const disconnected = new Promise<void>((resolve) =>
      gateway.on("natsStatus", (status) => {
        if (status === "disconnect") resolve();
      }),
    );
    await Promise.all(shared.cluster.nodes.map((n) => shared.cluster.kill(n)));
    await disconnected;
    let restarting = false;
    const acksBeforeRestart: number[] = [];
    raw.client.socket.on("data", () => {
      if (!restarting) acksBeforeRestart.push(raw.client.received.filter((f) => f.type === "ack").length);
    });
    const acksSoFar = raw.client.received.filter((f) => f.type === "ack").length;
    raw.client.sendMessages(4, 3);
    // A new client is turned away (retry later) while the stream cannot be read.
    const newcomer = await RawClient.connect({ port });
    t.after(() => newcomer.destroy());
    await assert.rejects(
      newcomer.hello({ clientId: "lost-2" }, 30_000),
      /OUTLAST_SERVER_BUSY.*stream LOST unavailable/,
    );
    // Pings are still answered meanwhile (the link is alive, only acknowledgements stop).
    raw.client.send({ type: "ping", nonce: 7 });
    await raw.client.waitFor((f) => f.type === "pong", 5000);
    assert.ok(
      acksBeforeRestart.every((n) => n === acksSoFar),
      "an ACK arrived while NATS was down",
    );
    restarting = true;
    await Promise.all(shared.cluster.nodes.map((n) => shared.cluster.startNode(n)));
    await raw.client.waitAck(6, 60_000);
    // Every NATS error met on the way went through classify(): a connection error, never a bug.
    assert.ok(natsErrors.length > 0);
    for (const err of natsErrors) assert.equal(classify(err).connection, true, String(err));
    const records = await readStream(shared.cluster.urls, "LOST");
    assert.deepEqual(
      records.map((r) => r.seq),
      [1, 2, 3, 4, 5, 6],
    );
  },
);
