/**
 * Gateways against a real 3-node JetStream cluster (child processes on free loopback
 * ports, R3 streams): forwarding with the outlast headers, the mark in WELCOME, stream
 * creation and verification, NATS unreachable at start.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect } from "../../src/client/client.js";
import { isOutlastError } from "../../src/errors/outlast-error.js";
import { createGateway } from "../../src/gateway/index.js";
import { freePort } from "../helpers/nats-cluster.js";
import { SharedCluster } from "./shared-cluster.js";
import { addStream, checkStream, readStream } from "../helpers/nats-stream.js";
import { openClient } from "../helpers/raw-client.js";

const shared = new SharedCluster("gateway tests");
const { skip } = shared;

test(
  "a gateway creates the stream and stores each message once, in order, with the outlast headers",
  { skip },
  async (t) => {
    const { gateway, port } = await shared.startGateway("FWD");
    t.after(() => gateway.destroy());
    assert.equal(gateway.stream?.created, true);
    assert.equal(gateway.stream?.replicas, 3);
    const client = connect(`tcp://127.0.0.1:${port}`, { clientId: "robot.1 ü" });
    t.after(() => client.destroy());
    const count = 500;
    for (let i = 1; i <= count; i++) void client.send(`m${i}`);
    await client.flush({ timeoutMs: 30_000 });
    const records = await readStream(shared.cluster.urls, "FWD");
    assert.equal(records.length, count);
    const check = checkStream(records, new Map([["robot.1 ü", Array.from({ length: count }, (_, i) => i + 1)]]));
    assert.deepEqual([check.lost, check.duplicated, check.reordered], [[], [], []]);
    records.forEach((r, i) => {
      assert.equal(Buffer.from(r.data).toString(), `m${i + 1}`);
      assert.equal(r.seq, i + 1);
      assert.ok(r.subject.startsWith("FWD.="), r.subject); // not a plain token: base64url after "="
      assert.ok(r.timeMs > Date.now() - 120_000 && r.timeMs <= Date.now() + 1000);
    });
    assert.equal(gateway.stats().acknowledged, count);

    // Another gateway WELCOMEs the same client with the stream's mark.
    const second = await shared.startGateway("FWD");
    t.after(() => second.gateway.destroy());
    assert.equal(second.gateway.stream?.created, false);
    const raw = await openClient(second.port, "robot.1 ü");
    t.after(() => raw.client.destroy());
    assert.equal(raw.welcome.lastSeq, count);
    // A resend of stored seqs is acknowledged as a duplicate and not stored again.
    raw.client.sendMessages(count - 4, 5);
    const ack = await raw.client.waitAck(count);
    assert.equal(ack.duplicates, 5);
    raw.client.sendMessages(count + 1, 1);
    await raw.client.waitAck(count + 1);
    assert.equal((await readStream(shared.cluster.urls, "FWD")).length, count + 1);
  },
);

test("an existing stream with an unsafe setting is refused, naming the setting", { skip }, async () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["UNSAFE_AGE", { max_age: 3600 * 1e9 }, "max_age"],
    ["UNSAFE_WQ", { retention: "workqueue" }, "retention"],
    ["UNSAFE_MSGS", { max_msgs: 1000 }, "max_msgs"],
    ["UNSAFE_DUP", { duplicate_window: 100 * 1e6 }, "duplicate_window"],
  ];
  for (const [name, config, setting] of cases) {
    await addStream(shared.cluster.urls, { name, subjects: [`${name}.>`], num_replicas: 3, ...config });
    const gateway = createGateway({ forward: { servers: shared.cluster.urls, stream: name } });
    await assert.rejects(gateway.listen({ host: "127.0.0.1", port: 0 }), (err: unknown) => {
      assert.ok(isOutlastError(err, "OUTLAST_STREAM_UNSAFE"), String(err));
      assert.equal(err.details["setting"], setting);
      assert.match(err.message, new RegExp(`stream ${name} is unsafe.*${setting}`));
      return true;
    });
  }
  // Fewer replicas than a gateway was told to require.
  await addStream(shared.cluster.urls, { name: "UNSAFE_R1", subjects: ["UNSAFE_R1.>"], num_replicas: 1 });
  await assert.rejects(
    createGateway({ forward: { servers: shared.cluster.urls, stream: "UNSAFE_R1", replicas: 3 } }).listen({ port: 0 }),
    (err: unknown) => isOutlastError(err, "OUTLAST_STREAM_UNSAFE") && err.details["setting"] === "num_replicas",
  );
  // A literal subject leaves no room for one subject per client.
  await addStream(shared.cluster.urls, { name: "UNSAFE_SUBJ", subjects: ["telemetry"], num_replicas: 3 });
  await assert.rejects(
    createGateway({ forward: { servers: shared.cluster.urls, stream: "UNSAFE_SUBJ" } }).listen({ port: 0 }),
    (err: unknown) => isOutlastError(err, "OUTLAST_STREAM_UNSAFE") && err.details["setting"] === "subjects",
  );
});

test("a stream the tests created with their own wildcard subject is used as it is", { skip }, async (t) => {
  await addStream(shared.cluster.urls, {
    name: "OWN",
    subjects: ["fleet.robots.>"],
    num_replicas: 3,
    max_msgs_per_subject: 10,
  });
  const { gateway, port } = await shared.startGateway("OWN");
  t.after(() => gateway.destroy());
  assert.equal(gateway.stream?.subjectPrefix, "fleet.robots");
  const raw = await openClient(port, "r-7");
  t.after(() => raw.client.destroy());
  raw.client.sendMessages(1, 3);
  await raw.client.waitAck(3);
  const records = await readStream(shared.cluster.urls, "OWN");
  assert.deepEqual(
    records.map((r) => [r.subject, r.clientId, r.seq]),
    [1, 2, 3].map((s) => ["fleet.robots.r-7", "r-7", s]),
  );
});

test("NATS unreachable at start is a clear error naming the URLs", { skip }, async () => {
  const port = await freePort();
  const gateway = createGateway({
    forward: { servers: `nats://127.0.0.1:${port}`, stream: "NOPE", connectTimeoutMs: 500 },
  });
  await assert.rejects(gateway.listen({ port: 0 }), (err: unknown) => {
    assert.ok(isOutlastError(err, "OUTLAST_NATS_UNAVAILABLE"), String(err));
    assert.match(err.message, new RegExp(`cannot connect to NATS at nats://127.0.0.1:${port}`));
    return true;
  });
});

test(
  "a stream someone created with one replica (nats.js's default) is used as it is when replicas is not given",
  { skip },
  async (t) => {
    await addStream(shared.cluster.urls, { name: "MADE_R1", subjects: ["MADE_R1.>"] });
    const gateway = createGateway({ forward: { servers: shared.cluster.urls, stream: "MADE_R1" } });
    const { port } = await gateway.listen({ host: "127.0.0.1", port: 0 });
    t.after(() => gateway.close());
    assert.deepEqual([gateway.stream?.created, gateway.stream?.replicas], [false, 1]);
    const client = connect(`tcp://127.0.0.1:${port}`, { clientId: "r1" });
    t.after(() => client.destroy());
    await client.send("one", { wait: "acknowledged" });
    const records = await readStream(shared.cluster.urls, "MADE_R1");
    assert.deepEqual(
      records.map((r) => [r.clientId, r.seq]),
      [["r1", 1]],
    );
  },
);
