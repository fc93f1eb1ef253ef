/**
 * One process of bench/fleet.ts's MQTT.js clients (the Mosquitto column), with MQTT.js's
 * defaults (keepalive 60 s, reconnectPeriod 1 s, clean session), created in the same steps
 * as clients.ts and speaking the same IPC: { open }, "burst" -> { burst } (one QoS 1
 * PUBLISH each, counted when its PUBACK arrives), "stats" -> { errors, open }, "close".
 * argv: url prefix count
 */
import { connect } from "mqtt";
import type { MqttClient } from "mqtt";

const RAMP_STEP = 200;
const RAMP_MS = 50;

const [url, prefix, countArg] = process.argv.slice(2);
const count = Number(countArg);
const clients: MqttClient[] = [];
let open = 0;
let errors = 0;

function add(i: number): void {
  const client = connect(url as string, { clientId: `${prefix}-${i}` });
  let connected = false;
  client.on("error", () => errors++);
  client.on("connect", () => {
    connected = true;
    if (++open === count) process.send?.({ open });
  });
  client.on("close", () => {
    if (connected) open--;
    connected = false;
  });
  clients.push(client);
}

for (let i = 0; i < count; i += RAMP_STEP) {
  for (let k = i; k < Math.min(count, i + RAMP_STEP); k++) add(k);
  await new Promise((r) => setTimeout(r, RAMP_MS));
}

function publish(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish("fleet/burst", "burst", { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  );
}

process.on("message", (msg: string) => {
  if (msg === "stats") process.send?.({ errors, open });
  if (msg.startsWith("burst")) {
    const k = Number(msg.split(":")[1] ?? 1);
    const sends = clients.flatMap((c) => Array.from({ length: k }, () => publish(c)));
    void Promise.all(sends).then(() => process.send?.({ burst: count }));
  }
  if (msg === "close")
    void Promise.all(clients.map((c) => new Promise<void>((r) => c.end(true, {}, () => r())))).then(() =>
      process.exit(0),
    );
});
