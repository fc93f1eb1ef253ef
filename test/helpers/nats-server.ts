/**
 * One nats-server child process with a configuration file of the test's own (TLS,
 * accounts, users and their permissions), JetStream on, on a free loopback port.
 * For what the 3-node cluster helper (nats-cluster.ts) does not configure.
 */

import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, natsServerPath } from "./nats-cluster.js";

export class NatsServer {
  #child: ChildProcess | undefined;
  #log = "";

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /**
   * Starts nats-server with `config(port, storeDir, dir)` as its configuration file; resolves
   * once it accepts clients. `dir` is a temp directory for the test's files (certificates),
   * removed by stop().
   */
  static async start(config: (port: number, storeDir: string, dir: string) => string): Promise<NatsServer> {
    const binary = natsServerPath();
    if (binary === undefined) throw new Error("nats-server is not installed (Debian package nats-server)");
    const dir = mkdtempSync(join(tmpdir(), "outlast-nats-conf-"));
    const server = new NatsServer(await freePort(), dir);
    const file = join(dir, "nats.conf");
    writeFileSync(file, config(server.port, join(dir, "store"), dir));
    const child = spawn(binary, ["-c", file], { stdio: ["ignore", "ignore", "pipe"] });
    server.#child = child;
    await new Promise<void>((resolve, reject) => {
      child.stderr?.setEncoding("utf8").on("data", (s: string) => {
        server.#log = (server.#log + s).slice(-20_000);
        if (server.#log.includes("Server is ready")) resolve();
      });
      child.once("exit", (code, signal) =>
        reject(new Error(`nats-server exited (${code ?? signal}) while starting:\n${server.#log.slice(-2000)}`)),
      );
      child.once("error", reject);
    });
    return server;
  }

  get log(): string {
    return this.#log;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
