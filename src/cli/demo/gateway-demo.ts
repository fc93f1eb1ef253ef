/**
 * `outlast demo --gateways`: a robot with a durable outbox sends through 2 gateways
 * (`outlast serve --forward` child processes) into an R3 stream on a 3-node cluster
 * (nats-server child processes), while a gateway and then the stream leader are
 * SIGKILLed and started again. Then the stream is read back and checked: every message
 * once, in order. The NATS client is loaded only on this path.
 */

import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "../../client/client.js";
import { retry } from "../../errors/retry.js";
import { NatsCluster, freePort, natsServerPath } from "./nats-cluster.js";

export interface GatewayDemoConfig {
  readonly dir: string;
  readonly messages: number;
  readonly sendMs: number;
  readonly drainTimeoutMs: number;
  readonly messageBytes: number;
}

export interface GatewayDemoReport {
  readonly ok: boolean;
  readonly sent: number;
  readonly acknowledged: number;
  readonly stored: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly reordered: number;
  readonly events: readonly string[];
  readonly seconds: number;
}

/** What the live view shows while the demo runs (gateway-demo-view.ts). */
export interface GatewayDemoSnapshot {
  readonly elapsedMs: number;
  readonly phase: "starting" | "sending" | "delivering" | "reading back";
  readonly total: number;
  readonly sent: number;
  readonly acknowledged: number;
  readonly queued: number;
  readonly inFlight: number;
  readonly link: string;
  /** The gateway the robot is connected to (tcp://...), if any. */
  readonly server: string | undefined;
  readonly gateways: readonly { readonly port: number; readonly up: boolean }[];
  readonly nodes: readonly { readonly name: string; readonly up: boolean }[];
  /** The robot's lost links by cause. */
  readonly reconnects: Readonly<Record<string, number>>;
  /** The last thing that happened (a kill, a restart). */
  readonly lastEvent: string | undefined;
}

/** The demo's hooks: each event line as it happens, and once the robot exists, how to read its state. */
export interface GatewayDemoWatch {
  event(line: string): void;
  snapshot(read: () => GatewayDemoSnapshot): void;
}

const STREAM = "DEMO";
const CLIENT_ID = "demo-robot";

/** Why the demo cannot run here, or undefined. */
export function gatewayDemoUnavailable(): string | undefined {
  return natsServerPath() === undefined
    ? "--gateways needs nats-server on the PATH (Debian/Ubuntu: apt-get install nats-server)"
    : undefined;
}

class GatewayChild {
  #child: ChildProcess | undefined;
  #stderr = "";
  constructor(
    readonly port: number,
    readonly servers: string,
  ) {}

  async start(): Promise<void> {
    const main = fileURLToPath(new URL("../main.js", import.meta.url));
    const child = spawn(
      process.execPath,
      [main, "serve", "--listen", `127.0.0.1:${this.port}`, "--forward", this.servers, "--stream", STREAM],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      child.stderr?.setEncoding("utf8").on("data", (s: string) => {
        this.#stderr = (this.#stderr + s).slice(-8000);
        if (this.#stderr.includes("listening on")) resolve();
      });
      child.once("exit", (code, signal) =>
        reject(new Error(`gateway on port ${this.port} exited (${code ?? signal}): ${this.#stderr.slice(-2000)}`)),
      );
    });
  }

  get up(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }
}

export async function runGatewayDemo(config: GatewayDemoConfig, watch: GatewayDemoWatch): Promise<GatewayDemoReport> {
  const started = Date.now();
  const events: string[] = [];
  let phase: GatewayDemoSnapshot["phase"] = "starting";
  const event = (text: string): void => {
    const line = `${((Date.now() - started) / 1000).toFixed(1)} s: ${text}`;
    events.push(line);
    watch.event(line);
  };
  const { jetstream, jetstreamManager } = await import("@nats-io/jetstream");
  const { connect: natsConnect } = await import("@nats-io/transport-node");
  const cluster = await NatsCluster.start({ name: "outlast-demo" });
  event(`3 nats-server nodes up (${cluster.urls})`);
  const gateways = [new GatewayChild(await freePort(), cluster.urls), new GatewayChild(await freePort(), cluster.urls)];
  const nc = await natsConnect({ servers: cluster.urls.split(","), maxReconnectAttempts: -1 });
  const client = connect(
    gateways.map((g) => `tcp://127.0.0.1:${g.port}`),
    { clientId: CLIENT_ID, outbox: join(config.dir, "outbox") },
  );
  client.on("error", () => undefined);
  let acknowledged = 0;
  const sends: Promise<unknown>[] = [];
  watch.snapshot(() => {
    const s = client.stats();
    return {
      elapsedMs: Date.now() - started,
      phase,
      total: config.messages,
      sent: sends.length,
      acknowledged,
      queued: s.queuedMessages,
      inFlight: s.inFlightMessages,
      link: client.state,
      server: client.state === "open" ? client.serverUrl : undefined,
      gateways: gateways.map((g) => ({ port: g.port, up: g.up })),
      nodes: cluster.nodes.map((n) => ({ name: n.name, up: n.process !== undefined })),
      reconnects: s.reconnects,
      lastEvent: events.at(-1),
    };
  });
  try {
    for (const g of gateways) await g.start();
    event(`2 gateways listening (ports ${gateways.map((g) => g.port).join(", ")}), stream ${STREAM} R3`);
    phase = "sending";
    const payload = (n: number): string => `message ${n} `.padEnd(config.messageBytes, ".");
    const leaderOf = async (): Promise<string> => {
      const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 5000 });
      for (let attempt = 0; ; attempt++) {
        try {
          const leader = (await jsm.streams.info(STREAM)).cluster?.leader;
          if (leader !== undefined && leader !== "") return leader;
        } catch (err) {
          if (attempt >= 10) throw err; // a leader election in progress answers nothing for a while
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const gap = config.sendMs / config.messages;
    let victimLeader: ReturnType<NatsCluster["node"]> | undefined;
    for (let n = 1; n <= config.messages; n++) {
      sends.push(client.send(payload(n)).then(() => acknowledged++));
      const fraction = n / config.messages;
      if (n === Math.ceil(config.messages * 0.25)) {
        await gateways[0]?.kill();
        event(`SIGKILL gateway on port ${gateways[0]?.port ?? 0}`);
      } else if (n === Math.ceil(config.messages * 0.45)) {
        await gateways[0]?.start();
        event(`gateway on port ${gateways[0]?.port ?? 0} started again`);
      } else if (n === Math.ceil(config.messages * 0.55)) {
        victimLeader = cluster.node(await leaderOf());
        await cluster.kill(victimLeader);
        event(`SIGKILL stream leader ${victimLeader.name}`);
      } else if (n === Math.ceil(config.messages * 0.8) && victimLeader !== undefined) {
        await cluster.startNode(victimLeader);
        event(`${victimLeader.name} started again`);
      }
      if (fraction < 1) await new Promise((resolve) => setTimeout(resolve, gap));
    }
    phase = "delivering";
    await client.flush({ timeoutMs: config.drainTimeoutMs });
    phase = "reading back";
    event(`all ${acknowledged} messages acknowledged; reading stream ${STREAM} back`);
    // Read the whole stream back and check it.
    // Just after a node kill the JetStream API (stream info, consumer creation: the meta leader)
    // can time out while the cluster settles: a connection error by classify(), so read again.
    const seqs = await retry(
      async () => {
        const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 10_000 });
        const last = (await jsm.streams.info(STREAM)).state.last_seq;
        const read: number[] = [];
        if (last > 0) {
          const consumer = await jetstream(nc).consumers.get(STREAM);
          const messages = await consumer.consume({ max_messages: 1000 });
          for await (const m of messages) {
            if (m.headers?.get("Outlast-Client-Id") === CLIENT_ID) read.push(Number(m.headers.get("Outlast-Seq")));
            if (m.seq >= last) break;
          }
          await messages.close();
        }
        return read;
      },
      { attempts: 8, baseMs: 250, capMs: 2_000 },
    );
    const seen = new Set<number>();
    let duplicated = 0;
    let reordered = 0;
    seqs.forEach((s, i) => {
      if (seen.has(s)) duplicated++;
      else if (i > 0 && s < (seqs[i - 1] ?? 0)) reordered++;
      seen.add(s);
    });
    let lost = 0;
    for (let n = 1; n <= config.messages; n++) if (!seen.has(n)) lost++;
    return {
      ok: lost === 0 && duplicated === 0 && reordered === 0,
      sent: config.messages,
      acknowledged,
      stored: seqs.length,
      lost,
      duplicated,
      reordered,
      events,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await client.destroy();
    await nc.close().catch(() => undefined);
    await Promise.all(gateways.map((g) => g.kill()));
    await cluster.stop();
  }
}

export function formatGatewayReport(r: GatewayDemoReport): string {
  return [
    `outlast demo --gateways: ${r.ok ? "every message stored exactly once, in order" : "FAILED"}`,
    `  sent          ${r.sent}`,
    `  acknowledged  ${r.acknowledged}`,
    `  in the stream ${r.stored}`,
    `  lost          ${r.lost}`,
    `  duplicated    ${r.duplicated}`,
    `  out of order  ${r.reordered}`,
    `  took          ${r.seconds.toFixed(1)} s`,
    `  what happened:`,
    ...r.events.map((e) => `    ${e}`),
    "",
  ].join("\n");
}
