/**
 * A real Mosquitto broker for tests: started as a child process on a free
 * loopback port with a generated config in a temp dir; killed (SIGKILL) and
 * started again on the same port and data dir; stopped at the end. Tests skip
 * with `mosquittoSkipReason()` when the binary is missing.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./nats-cluster.js";

export const MOSQUITTO = process.env["MOSQUITTO"] ?? "/usr/sbin/mosquitto";

/** Why Mosquitto tests cannot run here, or undefined. */
export function mosquittoSkipReason(): string | undefined {
  return existsSync(MOSQUITTO) ? undefined : `${MOSQUITTO} not found (apt-get install mosquitto, or set MOSQUITTO)`;
}

export interface MosquittoOptions {
  /** Persistence on, in the broker's data dir (kept across kill/start). Default false. */
  readonly persistence?: boolean;
  /**
   * With persistence: a snapshot after this many changes (autosave_on_changes). Default 1, what
   * lost least in the measurements, but Mosquitto then takes ~300 msg/s here.
   */
  readonly autosaveChanges?: number;
  /** username -> password; anonymous clients are refused when given. */
  readonly users?: Readonly<Record<string, string>>;
  /** TLS listener: key, cert (PEM) and the CA for client certificates (required when `requireCertificate`). */
  readonly tls?: {
    readonly key: string;
    readonly cert: string;
    readonly ca?: string;
    readonly requireCertificate?: boolean;
  };
  /** More config lines. */
  readonly extra?: readonly string[];
}

export class Mosquitto {
  readonly port: number;
  readonly dir: string;
  #proc: ChildProcess | undefined;
  #stderr = "";

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = await mkdtemp(join(tmpdir(), "outlast-mosquitto-"));
    const port = await freePort();
    const broker = new Mosquitto(port, dir);
    const lines = [
      `listener ${port} 127.0.0.1`,
      // Drop nothing: no per-client queue or in-flight limits (a slow subscriber must not lose messages).
      "max_queued_messages 0",
      "max_queued_bytes 0",
      "max_inflight_messages 0",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type information", // "mosquitto version ... running": the broker is listening
    ];
    if (process.getuid?.() === 0) lines.push("user root"); // as root it drops to "mosquitto" and cannot write its dir
    if (options.persistence === true) {
      lines.push(
        "persistence true",
        `persistence_location ${dir}/`,
        "autosave_on_changes true",
        `autosave_interval ${options.autosaveChanges ?? 1}`,
      );
    } else lines.push("persistence false");
    if (options.users !== undefined) {
      const file = join(dir, "passwd");
      await writeFile(file, "");
      for (const [user, password] of Object.entries(options.users))
        execFileSync("mosquitto_passwd", ["-b", file, user, password], { stdio: "ignore" });
      lines.push("allow_anonymous false", `password_file ${file}`);
    } else lines.push("allow_anonymous true");
    if (options.tls !== undefined) {
      await writeFile(join(dir, "server.key"), options.tls.key);
      await writeFile(join(dir, "server.crt"), options.tls.cert);
      lines.push(`certfile ${dir}/server.crt`, `keyfile ${dir}/server.key`);
      if (options.tls.ca !== undefined) {
        await writeFile(join(dir, "ca.crt"), options.tls.ca);
        lines.push(`cafile ${dir}/ca.crt`);
      }
      if (options.tls.requireCertificate === true) lines.push("require_certificate true");
    }
    lines.push(...(options.extra ?? []));
    await writeFile(join(dir, "mosquitto.conf"), lines.join("\n") + "\n");
    await broker.restart();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#proc !== undefined;
  }

  /** Starts the broker (again) on the same port and dir; resolves once it accepts TCP connections. */
  async restart(): Promise<void> {
    if (this.#proc !== undefined) throw new Error("mosquitto is already running");
    const proc = spawn(MOSQUITTO, ["-c", join(this.dir, "mosquitto.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    this.#proc = proc;
    this.#stderr = "";
    proc.stderr?.on("data", (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      const onData = (): void => {
        if (!this.#stderr.includes(" running")) return;
        proc.stderr?.off("data", onData);
        resolve();
      };
      proc.stderr?.on("data", onData);
      proc.once("exit", (code, signal) => {
        if (this.#proc === proc) this.#proc = undefined;
        reject(new Error(`mosquitto exited (code ${String(code)}, signal ${String(signal)}): ${this.#stderr.trim()}`));
      });
    });
  }

  /** SIGKILL: no final snapshot; resolves when the process is gone. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (proc === undefined) return;
    const gone = once(proc, "exit");
    proc.kill("SIGKILL");
    await gone;
  }

  /** SIGTERM, then removes the dir. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc !== undefined) {
      const gone = once(proc, "exit");
      proc.kill("SIGTERM");
      await gone;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
