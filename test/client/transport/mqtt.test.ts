/**
 * mqtt:// against a real Mosquitto started by the test: delivery with identity
 * (MQTT 5 user properties; the 3.1.1 envelope), DUP on resends, the window
 * capped by the broker's Receive Maximum, rejected credentials, a half-open
 * link, mqtts:// with a client certificate.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { classify, connect, isOutlastError } from "../../../src/index.js";
import type { Client, StateChangeEvent } from "../../../src/index.js";
import { createProxy } from "../../../src/proxy/index.js";
import { Mosquitto, mosquittoSkipReason } from "../../helpers/mosquitto.js";
import { testCerts, opensslAvailable } from "../../helpers/certs.js";
import { within } from "../../helpers/wait.js";
import { Subscriber, Tap } from "./mqtt-wire.js";

const skip = mosquittoSkipReason();
let broker: Mosquitto;

before(async () => {
  if (skip === undefined) broker = await Mosquitto.start();
});
after(async () => {
  await broker?.stop();
});

function payload(i: number): Buffer {
  return Buffer.from(`message ${i} `.padEnd(64, "."));
}

/** Sends n messages, waits for every acknowledgement, returns the client's seqs. */
async function sendAll(client: Client, n: number): Promise<number[]> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => client.send(payload(i))));
  return results.map((r) => r.seq);
}

for (const version of ["5", "3.1.1"] as const) {
  test(
    `mqtt ${version}: every message reaches a subscriber once and in order, with its (clientId, seq)`,
    { skip },
    async () => {
      const topic = `t/basic/${version}`;
      const envelope = version === "3.1.1";
      const sub = await Subscriber.start(broker.url, topic, { envelope });
      const client = connect(broker.url, { topic, clientId: `robot-${version}`, mqtt: { version, envelope } });
      try {
        const seqs = await sendAll(client, 2000);
        await within(sub.receivedAtLeast(2000), 20_000, "subscriber");
        assert.deepEqual(sub.unidentified, []);
        assert.deepEqual(
          sub.messages.map((m) => m.seq),
          seqs,
        );
        assert.ok(sub.messages.every((m) => m.clientId === `robot-${version}`));
        sub.messages.forEach((m, i) => assert.deepEqual(m.data, payload(i)));
        assert.equal(client.stats().acknowledged, 2000);
        assert.equal(client.stats().queuedMessages, 0);
      } finally {
        await client.close();
        await sub.close();
      }
    },
  );
}

test(
  "mqtt: auto speaks MQTT 5 to Mosquitto and caps the window at its Receive Maximum (max_inflight_messages 20, the default)",
  { skip },
  async () => {
    const limited = await Mosquitto.start({ extra: ["max_inflight_messages 20"] });
    const topic = "t/window";
    const sub = await Subscriber.start(limited.url, topic);
    const client = connect(limited.url, { topic });
    let most = 0;
    const timer = setInterval(() => (most = Math.max(most, client.stats().inFlightMessages)), 0);
    try {
      await sendAll(client, 3000);
      await within(sub.receivedAtLeast(3000), 20_000, "subscriber");
      assert.equal(sub.messages[0]?.clientId, client.clientId, "MQTT 5 user properties (auto picked 5)");
      assert.ok(most > 0 && most <= 20, `in flight at most 20, saw ${most}`);
    } finally {
      clearInterval(timer);
      await client.close();
      await sub.close();
      await limited.stop();
    }
  },
);

test("mqtt: a resend after lost PUBACKs sets DUP, a first send does not; nothing is lost", { skip }, async () => {
  const topic = "t/dup";
  const tap = await Tap.start(broker.port);
  const sub = await Subscriber.start(broker.url, topic);
  const client = connect(tap.url, { topic, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 600 });
  try {
    await sendAll(client, 100);
    tap.dropDown = true; // the broker's PUBACKs (and PINGRESPs) stop reaching the client
    const sends = Array.from({ length: 50 }, (_, i) => client.send(payload(100 + i)));
    const lost = await within(
      new Promise<StateChangeEvent>((resolve) => client.on("stateChange", (e) => e.to === "waiting" && resolve(e))),
      10_000,
      "dead link found",
    );
    assert.ok(isOutlastError(lost.error, "OUTLAST_HEARTBEAT_TIMEOUT"), String(lost.error));
    tap.dropDown = false;
    await within(Promise.all(sends), 10_000, "resent and acknowledged");
    const [first, second] = tap.connections;
    assert.equal(first?.dups, 0, "first sends carry no DUP");
    assert.ok((second?.dups ?? 0) > 0, "resends carry DUP");
    assert.equal(second?.dups, client.stats().resends, "every resend, and only resends, has DUP");
    await within(sub.receivedAtLeast(150 + client.stats().resends), 10_000, "subscriber");
    const distinct = sub.distinct();
    assert.equal(distinct.size, 150);
    for (const m of sub.messages) assert.deepEqual(m.data, distinct.get(`${m.clientId}:${m.seq}`)?.data);
  } finally {
    await client.close();
    await sub.close();
    await tap.close();
  }
});

for (const version of ["5", "3.1.1"] as const) {
  test(
    `mqtt ${version}: a bad password emits OUTLAST_AUTH_REJECTED once, keeps the messages and retries at the backoff cap`,
    { skip },
    async () => {
      const secured = await Mosquitto.start({ users: { robot: "right" } });
      const capMs = 300;
      const client = connect(secured.url, {
        topic: "t/auth",
        username: "robot",
        password: "wrong",
        mqtt: { version },
        backoff: { baseMs: 1, capMs },
      });
      const errors: Error[] = [];
      client.on("error", (e) => errors.push(e));
      const waits: StateChangeEvent[] = [];
      try {
        const sends = [client.send("a"), client.send("b"), client.send("c")];
        for (const p of sends) p.catch(() => undefined); // rejected by destroy() at the end
        await within(
          new Promise<void>((resolve) =>
            client.on("stateChange", (e) => {
              if (e.to === "waiting") waits.push(e);
              if (waits.length === 3) resolve();
            }),
          ),
          10_000,
          "three refused attempts",
        );
        assert.equal(errors.length, 1, "reported once per streak, not per attempt");
        const err = errors[0];
        assert.ok(isOutlastError(err, "OUTLAST_AUTH_REJECTED"), String(err));
        assert.equal(classify(err).connection, false);
        assert.match(err.message, /refused us/);
        for (const w of waits) assert.ok((w.delayMs ?? 0) >= capMs / 2, `no hot loop: waited ${w.delayMs} ms`);
        assert.equal(client.stats().queuedMessages, 3, "the messages are kept");
      } finally {
        await client.destroy();
      }
      const good = connect(secured.url, { topic: "t/auth", username: "robot", password: "right", mqtt: { version } });
      try {
        await good.send("d");
      } finally {
        await good.close();
        await secured.stop();
      }
    },
  );
}

test("mqtt: a half-open link to the broker is found by the default heartbeat (10 s of silence)", { skip }, async () => {
  const proxy = createProxy({ upstream: { host: "127.0.0.1", port: broker.port } });
  const { port } = await proxy.listen();
  const client = connect(`mqtt://127.0.0.1:${port}`, { topic: "t/half-open" });
  try {
    await client.send("before");
    const blackhole = proxy.addFault({ kind: "blackhole" });
    const lost = await within(
      new Promise<StateChangeEvent>((resolve) => client.on("stateChange", (e) => e.to === "waiting" && resolve(e))),
      60_000,
      "half-open link found",
    );
    assert.ok(isOutlastError(lost.error, "OUTLAST_HEARTBEAT_TIMEOUT"), String(lost.error));
    assert.deepEqual(
      "timeoutMs" in lost.error.details ? lost.error.details.timeoutMs : undefined,
      10_000,
      "found by outlast's receive-silence bound",
    );
    assert.equal(lost.classification?.connection, true);
    blackhole.remove();
    await client.send("after");
  } finally {
    await client.close();
    await proxy.destroy();
  }
});

test(
  "mqtts: a client certificate and a verified broker certificate; an unknown CA is a certificate error",
  { skip: skip ?? (opensslAvailable() ? undefined : "openssl not found") },
  async () => {
    const certs = testCerts();
    const secure = await Mosquitto.start({ tls: { ...certs.server, ca: certs.ca, requireCertificate: true } });
    const url = `mqtts://localhost:${secure.port}`;
    const client = connect(url, { topic: "t/tls", tls: { ca: certs.ca, ...certs.client } });
    try {
      await client.send("over TLS");
      const wrong = connect(url, { topic: "t/tls", tls: { ...certs.client } });
      const err = await within(
        new Promise<Error>((resolve) => wrong.on("error", resolve)),
        10_000,
        "certificate error",
      );
      assert.equal(classify(err).kind, "certificate");
      await wrong.destroy();
    } finally {
      await client.close();
      await secure.stop();
    }
  },
);

test(
  "mqtt auto: a broker that speaks only 3.1.1 refuses the MQTT 5 CONNECT; the same link goes on in 3.1.1",
  { skip },
  async () => {
    // A gate in front of Mosquitto that answers an MQTT 5 CONNECT as a 3.1.1 broker must
    // (CONNACK return code 1, unacceptable protocol level, then close) and passes 3.1.1 through.
    const levels: number[] = [];
    const gate = net.createServer((client) => {
      client.on("error", () => client.destroy());
      client.once("data", (first: Buffer) => {
        const level = first[8] ?? 0; // fixed header (2), protocol name length (2) + "MQTT" (4), then the level
        levels.push(level);
        if (level === 5) {
          client.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
          return;
        }
        const upstream = net.connect({ host: "127.0.0.1", port: broker.port });
        upstream.on("error", () => client.destroy());
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
        upstream.write(first);
        client.pipe(upstream).pipe(client);
      });
    });
    gate.listen(0, "127.0.0.1");
    await once(gate, "listening");
    const topic = "t/fallback";
    const sub = await Subscriber.start(broker.url, topic, { envelope: true });
    const client = connect(`mqtt://127.0.0.1:${(gate.address() as AddressInfo).port}`, {
      topic,
      mqtt: { envelope: true },
    });
    const states: string[] = [];
    client.on("stateChange", (e) => states.push(e.to));
    try {
      await sendAll(client, 10);
      await within(sub.receivedAtLeast(10), 10_000, "subscriber");
      assert.deepEqual(levels, [5, 4], "MQTT 5 first, then 3.1.1");
      assert.deepEqual(states, ["open"], "the fallback happened inside one connection attempt");
      assert.deepEqual(
        sub.messages.map((m) => [m.clientId, m.seq]),
        Array.from({ length: 10 }, (_, i) => [client.clientId, i + 1]),
        "identity through the envelope",
      );
    } finally {
      await client.close();
      await sub.close();
      gate.close();
    }
  },
);

test(
  "mqtt 5: a PUBACK that refuses the topic (ACL) is OUTLAST_AUTH_REJECTED; the message stays stored",
  { skip },
  async (t) => {
    const aclDir = await mkdtemp(join(tmpdir(), "outlast-mqtt-acl-"));
    t.after(() => rm(aclDir, { recursive: true, force: true }));
    const acl = join(aclDir, "acl");
    await writeFile(acl, "user robot\ntopic write allowed/#\n");
    const guarded = await Mosquitto.start({ users: { robot: "right" }, extra: [`acl_file ${acl}`] });
    const client = connect(guarded.url, {
      topic: "denied/x",
      username: "robot",
      password: "right",
      backoff: { baseMs: 1, capMs: 200 },
    });
    try {
      const send = client.send("refused");
      send.catch(() => undefined); // rejected by destroy() at the end
      const err = await within(new Promise<Error>((resolve) => client.once("error", resolve)), 10_000, "refusal");
      assert.ok(isOutlastError(err, "OUTLAST_AUTH_REJECTED"), String(err));
      assert.deepEqual(err.details, { reasonCode: 0x87 });
      assert.equal(client.stats().queuedMessages, 1, "kept for after the ACL is fixed");
    } finally {
      await client.destroy();
      await guarded.stop();
    }
  },
);
