// MQTT.js (v5), made to fail for real: against a real Mosquitto (bad credentials, an ACL that
// denies the topic) and against a raw TCP server on loopback that answers with the reason codes
// Mosquitto will not produce on demand (server unavailable, server busy) or with nothing at all.
// MQTT.js reports a CONNACK/PUBACK reason code as an Error named ErrorWithReasonCode with a
// numeric `code`: classify() judges it by src/errors/mqtt-rules.ts.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import { assertShape, assertVerdict, listenTcp, WAIT_MS, within } from "../helpers/library-errors.js";
import { Mosquitto, mosquittoSkipReason } from "../helpers/mosquitto.js";

const skip = mosquittoSkipReason();
let broker: Mosquitto;

before(async () => {
  if (skip !== undefined) return;
  broker = await Mosquitto.start({ users: { robot: "right" }, extra: [] });
});
after(async () => {
  await broker?.stop();
});

/** The first 'error' MQTT.js emits (it never reconnects here). */
async function firstError(url: string, options: IClientOptions, label: string): Promise<Error> {
  const client = connect(url, { reconnectPeriod: 0, ...options });
  try {
    return await within(new Promise<Error>((resolve) => client.once("error", resolve)), WAIT_MS, label);
  } finally {
    client.end(true);
  }
}

for (const [protocolVersion, rc] of [
  [4, 5],
  [5, 0x87],
] as const) {
  test(
    `MQTT.js ${protocolVersion === 4 ? "3.1.1" : "5"}: Mosquitto refuses a bad password: not a connection error (auth)`,
    { skip },
    async () => {
      const err = await firstError(broker.url, { protocolVersion, username: "robot", password: "wrong" }, "refused");
      assertShape(err, { name: "ErrorWithReasonCode", code: rc, message: /^Connection refused: Not authorized/ });
      assertVerdict(err, { connection: false, kind: "other", detail: "auth", delivered: "no" });
    },
  );
}

test(
  "MQTT.js 5: Mosquitto's ACL denies the topic: PUBACK 0x87 fails the publish, not a connection error (auth)",
  { skip },
  async (t) => {
    const acl = await Mosquitto.start({ users: { robot: "right" }, extra: [] });
    t.after(() => acl.stop());
    // an ACL file that lets the user write one topic only (the broker is restarted to read it)
    await writeFile(join(acl.dir, "acl"), "user robot\ntopic write allowed/#\n");
    await writeFile(join(acl.dir, "mosquitto.conf"), `acl_file ${join(acl.dir, "acl")}\n`, { flag: "a" });
    await acl.kill();
    await acl.restart();
    const client: MqttClient = connect(acl.url, {
      protocolVersion: 5,
      username: "robot",
      password: "right",
      reconnectPeriod: 0,
    });
    try {
      await within(new Promise((resolve) => client.once("connect", resolve)), WAIT_MS, "connect");
      await client.publishAsync("allowed/x", "ok", { qos: 1 });
      const err = await within(
        client.publishAsync("denied/x", "no", { qos: 1 }).then(
          () => assert.fail("the denied publish succeeded"),
          (e: unknown) => e,
        ),
        WAIT_MS,
        "denied publish",
      );
      assertShape(err, { name: "ErrorWithReasonCode", code: 0x87, message: "Publish error: Not authorized" });
      assertVerdict(err, { connection: false, kind: "other", detail: "auth", code: "MQTT_NOT_AUTHORIZED" });
    } finally {
      client.end(true);
    }
  },
);

/** A raw server that answers every CONNECT with these bytes. */
async function answering(bytes: readonly number[]) {
  return listenTcp((socket) => socket.once("data", () => socket.write(Buffer.from(bytes))));
}

for (const [label, protocolVersion, connack, code, expected] of [
  [
    "3.1.1 server unavailable (3)",
    4,
    [0x20, 0x02, 0x00, 0x03],
    3,
    { connection: true, kind: "refused", code: "MQTT_SERVER_UNAVAILABLE", delivered: "no" },
  ],
  [
    "5 server unavailable (0x88)",
    5,
    [0x20, 0x03, 0x00, 0x88, 0x00],
    0x88,
    { connection: true, kind: "refused", code: "MQTT_SERVER_UNAVAILABLE" },
  ],
  [
    "5 server busy (0x89)",
    5,
    [0x20, 0x03, 0x00, 0x89, 0x00],
    0x89,
    { connection: true, kind: "refused", code: "MQTT_SERVER_BUSY" },
  ],
  ["5 banned (0x8A)", 5, [0x20, 0x03, 0x00, 0x8a, 0x00], 0x8a, { connection: false, kind: "other", detail: "auth" }],
  [
    "5 unsupported protocol version (0x84)",
    5,
    [0x20, 0x03, 0x00, 0x84, 0x00],
    0x84,
    { connection: false, detail: "protocol-version" },
  ],
] as const) {
  test(`MQTT.js ${label}: the CONNACK reason code decides`, async () => {
    const server = await answering(connack);
    try {
      const err = await firstError(`mqtt://127.0.0.1:${server.port}`, { protocolVersion }, label);
      assertShape(err, { name: "ErrorWithReasonCode", code });
      assertVerdict(err, expected);
    } finally {
      await server.close();
    }
  });
}

test("MQTT.js: a server that accepts and never answers CONNECT: 'connack timeout' is a connection error", async () => {
  const server = await listenTcp(() => undefined);
  try {
    const err = await firstError(`mqtt://127.0.0.1:${server.port}`, { connectTimeout: 200 }, "connack timeout");
    assertShape(err, { message: "connack timeout" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "MQTT_CONNACK_TIMEOUT", delivered: "no" });
  } finally {
    await server.close();
  }
});

test("MQTT.js: no PINGRESP within the keepalive: 'Keepalive timeout' is a connection error", async () => {
  // answers CONNECT with a CONNACK, then nothing (a half-open link)
  const server = await answering([0x20, 0x02, 0x00, 0x00]);
  try {
    const err = await firstError(`mqtt://127.0.0.1:${server.port}`, { keepalive: 1 }, "keepalive timeout");
    assertShape(err, { message: "Keepalive timeout" });
    assertVerdict(err, { connection: true, kind: "timeout", code: "MQTT_KEEPALIVE_TIMEOUT" });
  } finally {
    await server.close();
  }
});
