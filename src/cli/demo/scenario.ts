/**
 * The demo run: an outlast server (crash-safe state directory), a fault proxy
 * in front of it, and a client with a durable outbox, all in this process and
 * a temporary directory. Messages are sent at a steady pace for `sendMs` while
 * the fault plan breaks the link, crashes the server and the client; then the
 * client drains and the handler's record is checked against what was sent.
 */

import { EventEmitter } from "node:events";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type Client, type ClientStats, type StateChangeEvent, type StateName } from "../../index.js";
import { FileOutbox } from "../../outbox/file-outbox.js";
import { createProxy, type FaultProxy, type Fault } from "../../proxy/index.js";
import { createRandom, deriveSeed } from "../../proxy/random.js";
import { createServer, type Server } from "../../server/index.js";
import { DeliveryRecord, demoPayload, type RecordSummary } from "./delivery-record.js";
import { planFaults, type DemoFaultKind, type FaultStep } from "./fault-plan.js";

export interface DemoConfig {
  readonly messages: number;
  readonly messageBytes: number;
  /** Faults per second (about); 0: none. */
  readonly faultRate: number;
  readonly seed: number;
  /** How long the messages are spread over (ms). */
  readonly sendMs: number;
  /** How long the client may take to drain after the last send (ms). */
  readonly drainTimeoutMs: number;
  /** The temporary directory (state/ and outbox/ go in it). */
  readonly dir: string;
}

/** The demo client's settings: a dead link is noticed within a second. */
const CLIENT_TUNING = {
  heartbeatIntervalMs: 250,
  heartbeatTimeoutMs: 1000,
  connectTimeoutMs: 1000,
  backoff: { baseMs: 25, capMs: 400, resetAfterMs: 2000 },
} as const;

export type Phase = "starting" | "sending" | "draining" | "done";

export interface DemoSnapshot {
  readonly phase: Phase;
  readonly elapsedMs: number;
  readonly total: number;
  /** Messages stored in the durable outbox (send() resolved "stored"). */
  readonly sent: number;
  /** Distinct messages the server's handler saw. */
  readonly delivered: number;
  /** Stored and not yet acknowledged. */
  readonly queued: number;
  readonly inFlight: number;
  readonly link: StateName;
  readonly server: "up" | "down";
  readonly current: FaultStep | undefined;
  readonly faults: Readonly<Record<string, number>>;
  readonly reconnects: Readonly<Record<string, number>>;
  readonly duplicatesRemoved: number;
}

export interface DemoResult {
  readonly summary: RecordSummary;
  readonly sent: number;
  readonly elapsedMs: number;
  readonly drained: boolean;
  readonly faults: Readonly<Record<string, number>>;
  readonly proxyFaultsApplied: Readonly<Record<string, number>>;
  readonly reconnects: Readonly<Record<string, number>>;
  /** Resends the server had already processed: skipped by (clientId, seq), or settled by WELCOME's lastSeq (the client's duplicatesSkipped). */
  readonly duplicatesRemoved: number;
  /** Of those, MESSAGE frames the server received and skipped. */
  readonly serverSkippedFrames: number;
  /** Frames written again after reconnects, plus what restarted clients found in their outbox. */
  readonly resent: number;
  /** Of `resent`: messages restarted clients found in their outbox. */
  readonly recoveredFromOutbox: number;
  readonly ackLatencyP99Ms: number;
  readonly clientErrors: readonly string[];
}

export interface ScenarioEvents {
  fault: [FaultStep];
  note: [string];
}

/** The cause of a move to `waiting`: the classified code, or GOODBYE / CLOSED when the server ended the link itself. */
export function causeOf(e: StateChangeEvent): string {
  if (e.classification !== undefined) return e.classification.code;
  return e.from === "open" ? "GOODBYE" : "CLOSED";
}

export class DemoScenario extends EventEmitter<ScenarioEvents> {
  readonly #c: DemoConfig;
  readonly #record: DeliveryRecord;
  readonly #plan: FaultStep[];
  readonly #faults: Record<string, number> = {};
  readonly #reconnects: Record<string, number> = {};
  readonly #clientErrors: string[] = [];
  #phase: Phase = "starting";
  #t0 = performance.now();
  #sent = 0;
  #server: Server | undefined;
  #serverPort = 0;
  #duplicatesRemoved = 0;
  #proxy: FaultProxy | undefined;
  #client: Client | undefined;
  #link: StateName = "connecting";
  #resent = 0;
  /** Messages restarted clients found in the outbox (stored, not acknowledged when the last one crashed). */
  #recovered = 0;
  /** duplicatesSkipped of the clients already gone (client crashes). */
  #clientDuplicates = 0;
  #current: FaultStep | undefined;
  /** Set while the client is being crashed and restarted: the sender waits. */
  #gate: Promise<void> | undefined;
  #batch: Promise<unknown> | undefined;
  #stopped = false;

  constructor(config: DemoConfig) {
    super();
    this.#c = config;
    this.#record = new DeliveryRecord(config.messages);
    this.#plan = planFaults(config.seed, config.sendMs, config.faultRate);
  }

  get plan(): readonly FaultStep[] {
    return this.#plan;
  }

  snapshot(): DemoSnapshot {
    const stats = this.#client?.stats();
    return {
      phase: this.#phase,
      elapsedMs: performance.now() - this.#t0,
      total: this.#c.messages,
      sent: this.#sent,
      delivered: this.#record.delivered,
      queued: stats?.queuedMessages ?? 0,
      inFlight: stats?.inFlightMessages ?? 0,
      link: this.#link,
      server: this.#server === undefined ? "down" : "up",
      current: this.#current,
      faults: { ...this.#faults },
      reconnects: { ...this.#reconnects },
      duplicatesRemoved: this.#clientDuplicates + (stats?.duplicatesSkipped ?? 0),
    };
  }

  /** Stops early (SIGINT): the run ends as soon as it can and tears everything down. */
  stop(): void {
    this.#stopped = true;
  }

  async run(): Promise<DemoResult> {
    try {
      await this.#startServer();
      const proxy = createProxy({
        upstream: { host: "127.0.0.1", port: this.#serverPort },
        seed: deriveSeed(this.#c.seed, 1),
      });
      this.#proxy = proxy;
      const { port } = await proxy.listen();
      this.#startClient(port);
      this.#t0 = performance.now();
      this.#phase = "sending";
      await Promise.all([this.#send(), this.#runFaults()]);
      this.#phase = "draining";
      let drained = true;
      const client = this.#client;
      if (client !== undefined && !this.#stopped) {
        drained = await client.flush({ timeoutMs: this.#c.drainTimeoutMs }).then(
          () => true,
          () => false,
        );
      }
      const elapsedMs = performance.now() - this.#t0;
      const stats = client?.stats();
      this.#countResent(stats);
      this.#clientDuplicates += stats?.duplicatesSkipped ?? 0;
      await client?.close({ timeoutMs: 2000 });
      this.#client = undefined;
      await this.#stopServer("close");
      this.#phase = "done";
      return {
        summary: this.#record.summary(this.#sent),
        sent: this.#sent,
        elapsedMs,
        drained,
        faults: { ...this.#faults },
        proxyFaultsApplied: Object.fromEntries(Object.entries(proxy.stats().faults).filter(([, n]) => n > 0)),
        reconnects: { ...this.#reconnects },
        duplicatesRemoved: this.#clientDuplicates,
        serverSkippedFrames: this.#duplicatesRemoved,
        resent: this.#resent,
        recoveredFromOutbox: this.#recovered,
        ackLatencyP99Ms: stats?.ackLatencyP99Ms ?? 0,
        clientErrors: [...this.#clientErrors],
      };
    } finally {
      await this.#client?.destroy();
      await this.#proxy?.destroy();
      await this.#server?.destroy();
    }
  }

  // ---- parts ----

  async #startServer(): Promise<void> {
    const server = createServer({
      state: join(this.#c.dir, "state"),
      onMessage: (m) => this.#record.record(m.data, m.redelivery),
    });
    server.on("error", (err) => this.emit("note", `server failed: ${err.message}`));
    server.on("clientError", () => {}); // resets and timeouts are the point of the demo
    // The port is taken again after a restart; a closing socket may hold it for a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        const bound = await server.listen({ host: "127.0.0.1", port: this.#serverPort });
        this.#serverPort = bound.port;
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 20) throw err;
        await sleep(50);
      }
    }
    this.#server = server;
  }

  async #stopServer(how: "close" | "destroy"): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    if (how === "close") await server.close();
    else await server.destroy();
    this.#duplicatesRemoved += server.stats().duplicatesSkipped;
  }

  #startClient(proxyPort: number): void {
    const client = connect(`tcp://127.0.0.1:${proxyPort}`, {
      clientId: "outlast-demo",
      outbox: new FileOutbox(join(this.#c.dir, "outbox")),
      random: createRandom(deriveSeed(this.#c.seed, 2, this.#faults["client-crash"] ?? 0)),
      ...CLIENT_TUNING,
    });
    client.on("stateChange", (e: StateChangeEvent) => {
      this.#link = e.to;
      if (e.to === "waiting") this.#reconnects[causeOf(e)] = (this.#reconnects[causeOf(e)] ?? 0) + 1;
    });
    client.on("error", (err: Error) => {
      this.#clientErrors.push(err.message);
      this.emit("note", `client error: ${err.message}`);
    });
    this.#client = client;
    this.#link = client.state;
  }

  async #send(): Promise<void> {
    const { messages, sendMs, messageBytes } = this.#c;
    let next = 0;
    while (next < messages && !this.#stopped) {
      if (this.#gate !== undefined) await this.#gate;
      const elapsed = performance.now() - this.#t0;
      const due = Math.min(messages, Math.ceil((elapsed / sendMs) * messages));
      if (due <= next) {
        await sleep(Math.max(5, Math.min(25, ((next + 1) * sendMs) / messages - elapsed)));
        continue;
      }
      const client = this.#client;
      if (client === undefined) throw new Error("demo: no client");
      const batch: Promise<unknown>[] = [];
      for (; next < due; next++) batch.push(client.send(demoPayload(next, messageBytes), { wait: "stored" }));
      this.#batch = Promise.all(batch);
      await this.#batch;
      this.#sent = next;
    }
  }

  async #runFaults(): Promise<void> {
    for (const step of this.#plan) {
      const wait = this.#t0 + step.atMs - performance.now();
      if (wait > 0) await this.#sleep(wait);
      if (this.#stopped) return;
      this.#current = step;
      this.emit("fault", step);
      await this.#apply(step);
      this.#faults[step.kind] = (this.#faults[step.kind] ?? 0) + 1;
      this.#current = undefined;
    }
  }

  /** Sleeps, waking early when stopped. */
  async #sleep(ms: number): Promise<void> {
    const end = performance.now() + ms;
    while (!this.#stopped && performance.now() < end) await sleep(Math.min(50, end - performance.now()));
  }

  /** A fault that acts at once on open connections (reset, close): on briefly, then off. */
  async #pulse(fault: Fault): Promise<void> {
    const handle = this.#proxy?.addFault(fault);
    await sleep(20);
    handle?.remove();
  }

  async #during(fault: Fault, ms: number): Promise<void> {
    const handle = this.#proxy?.addFault(fault);
    try {
      await this.#sleep(ms);
    } finally {
      handle?.remove();
    }
  }

  async #apply(step: FaultStep): Promise<void> {
    const kind: DemoFaultKind = step.kind;
    switch (kind) {
      case "reset":
        return this.#pulse({ kind: "reset" });
      case "close":
        return this.#pulse({ kind: "close" });
      case "blackhole":
        return this.#during({ kind: "blackhole" }, step.forMs);
      case "latency":
        return this.#during(
          { kind: "latency", latencyMs: step.latencyMs ?? 100, jitterMs: step.jitterMs ?? 0 },
          step.forMs,
        );
      case "refuse": {
        const refuse = this.#proxy?.addFault({ kind: "refuse" });
        await this.#pulse({ kind: "reset" });
        await this.#sleep(step.forMs);
        refuse?.remove();
        return;
      }
      case "hold": {
        const hold = this.#proxy?.addFault({ kind: "hold" });
        await this.#pulse({ kind: "reset" });
        await this.#sleep(step.forMs);
        hold?.remove();
        return;
      }
      case "server-crash":
      case "server-restart":
        await this.#stopServer(kind === "server-crash" ? "destroy" : "close");
        await this.#sleep(step.forMs);
        await this.#startServer();
        return;
      case "client-crash":
        return this.#crashClient();
      default: {
        const never: never = kind;
        return never;
      }
    }
  }

  /** A client's resends: frames written again after a reconnect, and what it found in its outbox when it opened (after a crash). */
  #countResent(stats: ClientStats | undefined): void {
    this.#resent += (stats?.resends ?? 0) + (stats?.recovered ?? 0);
    this.#recovered += stats?.recovered ?? 0;
  }

  /** Destroys the client between two batches (what it stored is on disk) and opens a new one on the same outbox. */
  async #crashClient(): Promise<void> {
    let release = (): void => {};
    this.#gate = new Promise((resolve) => (release = resolve));
    try {
      await this.#batch?.catch(() => undefined);
      const old = this.#client;
      this.#countResent(old?.stats());
      this.#clientDuplicates += old?.stats().duplicatesSkipped ?? 0;
      await old?.destroy();
      const port = this.#proxy?.address()?.port;
      if (port !== undefined) this.#startClient(port);
    } finally {
      this.#gate = undefined;
      release();
    }
  }
}
