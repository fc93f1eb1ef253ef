/**
 * A real 3-node (or N-node) NATS JetStream cluster on free loopback ports, each node a
 * nats-server child process with its own store directory. A node can be SIGKILLed and
 * restarted on the same ports and directory. Used by the gateway tests, the chaos test,
 * the benchmark and `outlast demo --gateways`'s test.
 */

import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export { freePort };

export interface NatsNode {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly url: string;
  readonly storeDir: string;
  process: ChildProcess | undefined;
}

/** `nats-server` when it is on the PATH, else undefined (Debian package `nats-server`). */
export function natsServerPath(): string | undefined {
  const r = spawnSync("nats-server", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? "nats-server" : undefined;
}

/** A reason to skip, printed by the test, or undefined when nats-server is there. */
export function natsSkipReason(): string | undefined {
  return natsServerPath() === undefined
    ? "nats-server is not installed (Debian package nats-server; .ci/run installs it)"
    : undefined;
}

export interface ClusterOptions {
  readonly nodes?: number;
  /** Extra lines on stderr of each node are kept here (for a failing test's message). */
  readonly name?: string;
}

export class NatsCluster {
  readonly nodes: NatsNode[];
  readonly #binary: string;
  readonly #root: string;
  readonly #clusterName: string;
  #logs = new Map<string, string>();

  private constructor(binary: string, root: string, nodes: NatsNode[], clusterName: string) {
    this.#binary = binary;
    this.#root = root;
    this.nodes = nodes;
    this.#clusterName = clusterName;
  }

  /** Starts every node and resolves once each accepts clients (JetStream meta leader election happens after). */
  static async start(options: ClusterOptions = {}): Promise<NatsCluster> {
    const binary = natsServerPath();
    if (binary === undefined) throw new Error("nats-server is not installed (Debian package nats-server)");
    const count = options.nodes ?? 3;
    const root = mkdtempSync(join(tmpdir(), "outlast-nats-"));
    const nodes: NatsNode[] = [];
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const clusterPort = await freePort();
      nodes.push({
        name: `n${i + 1}`,
        port,
        clusterPort,
        url: `nats://127.0.0.1:${port}`,
        storeDir: join(root, `n${i + 1}`),
        process: undefined,
      });
    }
    const cluster = new NatsCluster(binary, root, nodes, options.name ?? "outlast");
    await Promise.all(nodes.map((n) => cluster.startNode(n)));
    return cluster;
  }

  /** Comma-separated client URLs (what `--forward` takes). */
  get urls(): string {
    return this.nodes.map((n) => n.url).join(",");
  }

  node(name: string): NatsNode {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  /** Starts (or restarts) one node on its ports and store directory; resolves when it accepts clients. */
  async startNode(node: NatsNode): Promise<void> {
    if (node.process !== undefined) throw new Error(`${node.name} is running`);
    const routes = this.nodes
      .filter((n) => n !== node)
      .map((n) => `nats://127.0.0.1:${n.clusterPort}`)
      .join(",");
    const child = spawn(
      this.#binary,
      [
        "-a",
        "127.0.0.1",
        "-p",
        String(node.port),
        "-n",
        node.name,
        "-js",
        "-sd",
        node.storeDir,
        "--cluster_name",
        this.#clusterName,
        "--cluster",
        `nats://127.0.0.1:${node.clusterPort}`,
        "--routes",
        routes,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    node.process = child;
    let log = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        log += chunk.toString("utf8");
        if (log.length > 20_000) log = log.slice(-20_000);
        this.#logs.set(node.name, log);
        if (log.includes("Server is ready")) resolve();
      };
      child.stderr?.on("data", onData);
      child.once("exit", (code, signal) => {
        if (node.process === child) node.process = undefined;
        reject(new Error(`nats-server ${node.name} exited (${code ?? signal}) while starting:\n${log.slice(-2000)}`));
      });
      child.once("error", reject);
    });
  }

  /** SIGKILLs one node; resolves once the process is gone. */
  async kill(node: NatsNode): Promise<void> {
    const child = node.process;
    if (child === undefined) return;
    node.process = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  /** The recent stderr of a node (for a failing assertion's message). */
  log(name: string): string {
    return this.#logs.get(name) ?? "";
  }

  /** Kills every node and removes the store directories. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n)));
    rmSync(this.#root, { recursive: true, force: true });
  }
}
