/**
 * A Mosquitto for the broker benchmarks (bench/mqtt-*.ts): a generated config
 * in a temp dir, a free loopback port, persistence off, started and stopped
 * by the benchmark.
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { MOSQUITTO } from "./delivery/mqtt.js";

export async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export class Broker {
  readonly port: number;
  readonly #conf: string;
  #proc: ChildProcess | undefined;

  private constructor(port: number, conf: string) {
    this.port = port;
    this.#conf = conf;
  }

  /** `extra`: more mosquitto.conf lines (e.g. "max_inflight_messages 0"). */
  static async create(dir: string, extra: readonly string[]): Promise<Broker> {
    const port = await freePort();
    const conf = join(dir, `mosquitto-${port}.conf`);
    const lines = [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", "log_dest stderr"];
    lines.push("log_type information", ...extra);
    if (process.getuid?.() === 0) lines.push("user root");
    await writeFile(conf, lines.join("\n") + "\n");
    return new Broker(port, conf);
  }

  /** Resolves once Mosquitto says it is running (listening). */
  async start(): Promise<void> {
    const proc = spawn(MOSQUITTO, ["-c", this.#conf], { stdio: ["ignore", "ignore", "pipe"] });
    this.#proc = proc;
    let err = "";
    await new Promise<void>((resolve, reject) => {
      proc.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
        if (err.includes(" running")) resolve();
      });
      proc.once("exit", (code) => reject(new Error(`mosquitto exited with ${String(code)}: ${err}`)));
    });
  }

  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined || proc.exitCode !== null) return;
    const gone = once(proc, "exit");
    proc.kill("SIGTERM");
    await gone;
  }
}

export async function mosquittoVersion(): Promise<string> {
  const p = spawn(MOSQUITTO, ["-h"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  await once(p, "close");
  return /mosquitto version (\S+)/.exec(out)?.[1] ?? "?";
}
