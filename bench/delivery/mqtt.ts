/**
 * Contender "mqtt": MQTT.js publishing with QoS 1 (MQTT 3.1.1) to Mosquitto,
 * which the benchmark starts itself on a free loopback port with a generated
 * config in a temp dir, and stops. A message counts as acknowledged when its
 * PUBACK arrives (the publish callback). Nobody subscribes: the broker accepts
 * and drops, as outlast's benchmark server accepts and does nothing.
 */

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import type { MqttClient } from "mqtt";
import { packageVersion } from "../report.js";
import type { BenchClient, Contender, RunningServer } from "./contender.js";
import { withTimeout } from "./measure.js";

export const MOSQUITTO = process.env["MOSQUITTO"] ?? "/usr/sbin/mosquitto";
const TOPIC = "bench/delivery";

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** "mosquitto 2.0.11", from `mosquitto -h`. */
async function mosquittoVersion(): Promise<string> {
  const p = spawn(MOSQUITTO, ["-h"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr.on("data", (d: Buffer) => (out += d.toString()));
  await once(p, "close");
  return /mosquitto version (\S+)/.exec(out)?.[0].replace(" version", "") ?? "mosquitto (unknown version)";
}

/** Resolves once a TCP connect to the port succeeds (the broker is listening). */
async function waitForPort(port: number, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = exited();
    if (why !== undefined) throw new Error(`mosquitto exited before listening: ${why}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startMosquitto(): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), "outlast-bench-mosquitto-"));
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  await writeFile(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", ""].join("\n"));
  const version = await mosquittoVersion();
  const proc = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exitInfo: string | undefined;
  const exited = once(proc, "exit").then(([code, signal]) => {
    exitInfo = `code ${String(code)}, signal ${String(signal)}; stderr: ${stderr.trim()}`;
  });
  proc.on("error", (err) => (exitInfo = err.message));
  try {
    await waitForPort(port, 10_000, () => exitInfo);
  } catch (err) {
    proc.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = proc.pid;
  if (pid === undefined) throw new Error("mosquitto has no pid");
  return {
    port,
    pid,
    version,
    async stop() {
      if (exitInfo === undefined) {
        proc.kill("SIGTERM");
        await withTimeout(exited, 10_000, "mosquitto stop").catch(() => proc.kill("SIGKILL"));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

class MqttBenchClient implements BenchClient {
  readonly #client: MqttClient;
  #failed: ((err: Error) => void) | undefined;

  constructor(client: MqttClient) {
    this.#client = client;
    const fail = (err?: Error) => this.#failed?.(err ?? new Error("mqtt: connection closed"));
    client.on("error", fail);
    client.on("close", () => fail());
  }

  pipelined(payload: Buffer, count: number, window: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      let sent = 0;
      let acked = 0;
      // MQTT.js calls back with `null` or `undefined` on success, an Error on failure.
      const onAck = (err?: Error | null) => {
        if (err) {
          reject(err);
          return;
        }
        acked++;
        if (acked === count) resolve(acked);
        else if (sent < count) publish();
      };
      const publish = () => {
        sent++;
        this.#client.publish(TOPIC, payload, { qos: 1 }, onAck);
      };
      while (sent < Math.min(window, count)) publish();
    });
  }

  roundTrip(payload: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      this.#client.publish(TOPIC, payload, { qos: 1 }, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.#failed = undefined;
    await this.#client.endAsync();
  }
}

export const contender: Contender = {
  name: "mqtt",
  description: "MQTT.js QoS 1 (MQTT 3.1.1) to Mosquitto, PUBACK = acknowledged",
  clientVersion: () => `mqtt ${packageVersion("mqtt")}`,
  startServer: () => startMosquitto(),
  async openClient(port: number, clientId: string): Promise<BenchClient> {
    // reconnectPeriod 0: a failure surfaces as an error instead of a silent reconnect.
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId, clean: true, reconnectPeriod: 0 });
    return new MqttBenchClient(client);
  },
};
