/**
 * A broker's MQTT 5 DISCONNECT with a reason code. Mosquitto 2.0.11 sends none
 * when another connection takes the client identifier (measured: it closes the
 * old connection without a packet), so a gate in front of a real Mosquitto
 * sends DISCONNECT 0x8E (session taken over), as the MQTT 5 spec has a broker
 * do, and closes. The outlast client classifies it (MQTT_SESSION_TAKEN_OVER,
 * not a connection error), reports it as `error`, keeps its messages and waits
 * at the backoff cap before it connects again (no hot loop). And what Mosquitto
 * itself does to two clients that share a clientId.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { connectAsync } from "mqtt";
import { classify, connect } from "../../../src/index.js";
import type { StateChangeEvent } from "../../../src/index.js";
import { Mosquitto, mosquittoSkipReason } from "../../helpers/mosquitto.js";
import { within } from "../../helpers/wait.js";
import { Subscriber } from "./mqtt-wire.js";

const skip = mosquittoSkipReason();
let broker: Mosquitto;

before(async () => {
  if (skip === undefined) broker = await Mosquitto.start();
});
after(async () => {
  await broker?.stop();
});

/** A pass-through to the broker that can end the current client connection with an MQTT 5 DISCONNECT. */
async function disconnectGate(port: number): Promise<{ url: string; kick(reasonCode: number): void; close(): void }> {
  let current: net.Socket | undefined;
  const gate = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port });
    current = client;
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  gate.listen(0, "127.0.0.1");
  await once(gate, "listening");
  return {
    url: `mqtt://127.0.0.1:${(gate.address() as AddressInfo).port}`,
    kick(reasonCode) {
      const client = current as net.Socket;
      client.unpipe();
      // DISCONNECT: type 14, remaining length 2, the reason code, no properties.
      client.end(Buffer.from([0xe0, 0x02, reasonCode, 0x00]));
    },
    close: () => gate.close(),
  };
}

test(
  "mqtt 5: a broker's DISCONNECT 0x8E (session taken over) is MQTT_SESSION_TAKEN_OVER: reported once, retried at the backoff cap, nothing lost",
  { skip },
  async () => {
    const topic = "t/taken-over";
    const clientId = "robot-twin";
    const capMs = 400;
    const gate = await disconnectGate(broker.port);
    const sub = await Subscriber.start(broker.url, topic, { envelope: false });
    const client = connect(gate.url, { topic, clientId, backoff: { baseMs: 1, capMs } });
    const errors: Error[] = [];
    client.on("error", (err) => errors.push(err));
    const lost = new Promise<StateChangeEvent>((resolve) =>
      client.on("stateChange", (e) => {
        if (e.to === "waiting") resolve(e);
      }),
    );
    try {
      await client.send("before");
      gate.kick(0x8e);
      const e = await within(lost, 10_000, "the link lost to the DISCONNECT");
      assert.equal(e.classification?.code, "MQTT_SESSION_TAKEN_OVER");
      assert.equal(e.classification?.connection, false, "a person must act: two clients share one clientId");
      assert.equal((e.error as { code?: unknown } | undefined)?.code, 0x8e);
      assert.ok(
        (e.delayMs ?? 0) >= capMs / 2,
        `retried at the backoff cap (${capMs} ms), not at its base: ${e.delayMs} ms`,
      );
      assert.equal(errors.length, 1, "reported as `error`");
      assert.equal(classify(errors[0] as Error).code, "MQTT_SESSION_TAKEN_OVER");
      // Sent while the link is down: kept in the outbox, delivered on the next link.
      await within(client.send("during"), 10_000, "the message sent while away acknowledged");
      await within(sub.receivedAtLeast(2), 10_000, "subscriber");
      assert.deepEqual(
        sub.messages.map((m) => [m.clientId, m.seq]),
        [
          [clientId, 1],
          [clientId, 2],
        ],
      );
    } finally {
      await client.close();
      await sub.close();
      gate.close();
    }
  },
);

test(
  "mqtt: Mosquitto 2.0 closes the old connection without DISCONNECT when another takes its clientId: a connection error, the client comes back",
  { skip },
  async () => {
    const topic = "t/taken-over-mosquitto";
    const clientId = "robot-twin-m";
    const client = connect(broker.url, { topic, clientId, backoff: { baseMs: 1, capMs: 400 } });
    const lost = new Promise<StateChangeEvent>((resolve) =>
      client.on("stateChange", (e) => {
        if (e.to === "waiting") resolve(e);
      }),
    );
    try {
      await client.send("before");
      const twin = await connectAsync(broker.url, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
      const twinClosed = once(twin as unknown as NodeJS.EventEmitter, "close");
      const e = await within(lost, 10_000, "the link lost to the takeover");
      assert.equal(e.classification?.code, "OUTLAST_CONNECTION_CLOSED", "no DISCONNECT packet: the socket closed");
      assert.equal(e.classification?.connection, true);
      // Our reconnect takes the clientId back: Mosquitto closes the twin in turn.
      await within(client.send("after"), 10_000, "acknowledged after the takeover");
      await within(twinClosed, 10_000, "the twin closed by our reconnect");
      twin.end(true);
    } finally {
      await client.close();
    }
  },
);
