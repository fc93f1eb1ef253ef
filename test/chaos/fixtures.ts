/**
 * The chaos fixtures as the orchestrator sees them: a server that can be
 * SIGKILLed and restarted on the same port and state directory, and clients
 * that report what they stored and can be SIGKILLed and restarted on their
 * durable outbox.
 */

import { fileURLToPath } from "node:url";
import { spawnLineChild, type LineChild } from "./child-process.js";
import type { ClientChildConfig } from "./client-child.js";
import type { ServerChildConfig } from "./server-child.js";

const SERVER_SCRIPT = fileURLToPath(new URL("./server-child.js", import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL("./client-child.js", import.meta.url));
const START_TIMEOUT_MS = 20_000;

export class ChaosServer {
  #child: LineChild | undefined;
  #generation = 0;
  #port: number;
  readonly #config: Omit<ServerChildConfig, "generation" | "port">;
  readonly #wrapper: readonly string[];
  /** Exits nobody asked for (crashes), with their stderr. */
  readonly crashes: string[] = [];

  constructor(config: Omit<ServerChildConfig, "generation">, wrapper: readonly string[] = []) {
    const { port, ...rest } = config;
    this.#port = port;
    this.#config = rest;
    this.#wrapper = wrapper;
  }

  get port(): number {
    return this.#port;
  }
  get generation(): number {
    return this.#generation;
  }
  get running(): boolean {
    return this.#child !== undefined;
  }

  async start(): Promise<number> {
    if (this.#child) throw new Error("ChaosServer: already running");
    this.#generation += 1;
    const generation = this.#generation;
    const child = spawnLineChild(
      SERVER_SCRIPT,
      { ...this.#config, port: this.#port, generation },
      () => undefined,
      this.#wrapper,
    );
    this.#child = child;
    void child.exited.then(({ code, signal }) => {
      if (this.#child === child) {
        this.#child = undefined;
        this.crashes.push(
          `server generation ${generation} exited on its own (${code ?? signal}): ${child.stderr().trim().slice(-2000)}`,
        );
      }
    });
    const line = await child.waitFor(
      (l) => l.includes('"listening"'),
      START_TIMEOUT_MS,
      `server generation ${generation} listening`,
    );
    this.#port = (JSON.parse(line) as { port: number }).port;
    return this.#port;
  }

  /** SIGKILL: no drain, no goodbye, dedup state as the kernel has it. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    await child?.kill();
  }

  /** Graceful close (SIGTERM): the server drains and syncs its state. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    await child?.stop("SIGTERM", 10_000);
  }
}

export interface ClientSendStats {
  readonly sent: number;
  readonly resends: number;
  readonly acknowledged: number;
  readonly duplicatesSkipped: number;
  readonly reconnects: Readonly<Record<string, number>>;
}

export class ChaosClient {
  #child: LineChild | undefined;
  #incarnation = 0;
  /** Highest message number reported stored, + 1: where a restarted process continues. */
  #next = 0;
  #done = false;
  readonly stored = new Set<number>();
  readonly sendErrors: string[] = [];
  readonly crashes: string[] = [];
  /** `error` events and links lost to errors classify() calls "other" (W lines). */
  readonly warnings: string[] = [];
  /** Stats of the process that finished (earlier, killed processes' stats are lost with them). */
  stats: ClientSendStats | undefined;
  readonly #config: Omit<ClientChildConfig, "start">;
  readonly #wrapper: readonly string[];

  constructor(config: Omit<ClientChildConfig, "start">, wrapper: readonly string[] = []) {
    this.#config = config;
    this.#wrapper = wrapper;
  }

  get clientId(): string {
    return this.#config.clientId;
  }
  get running(): boolean {
    return this.#child !== undefined;
  }
  get done(): boolean {
    return this.#done;
  }

  #onLine(line: string): void {
    if (line.startsWith("S ")) {
      const [, seq, index] = line.split(" ");
      this.stored.add(Number(seq));
      this.#next = Math.max(this.#next, Number(index) + 1);
    } else if (line.startsWith("E ")) {
      this.sendErrors.push(`${this.clientId}: ${line}`);
    } else if (line.startsWith("W ")) {
      if (this.warnings.length < 50) this.warnings.push(`${this.clientId}: ${line.slice(2)}`);
    } else if (line === "done") {
      this.#done = true;
    } else if (line.startsWith("flushed ")) {
      this.stats = JSON.parse(line.slice("flushed ".length)) as ClientSendStats;
    }
  }

  async start(): Promise<void> {
    if (this.#child) throw new Error("ChaosClient: already running");
    this.#incarnation += 1;
    const incarnation = this.#incarnation;
    this.#done = false;
    const child = spawnLineChild(
      CLIENT_SCRIPT,
      { ...this.#config, start: this.#next },
      (l) => this.#onLine(l),
      this.#wrapper,
    );
    this.#child = child;
    void child.exited.then(({ code, signal }) => {
      if (this.#child === child && code !== 0) {
        this.#child = undefined;
        this.crashes.push(
          `client ${this.clientId} process ${incarnation} exited on its own (${code ?? signal}): ${child.stderr().trim().slice(-2000)}`,
        );
      }
    });
    await child.waitFor((l) => l.startsWith("ready "), START_TIMEOUT_MS, `client ${this.clientId} ready`);
  }

  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    await child?.kill();
  }

  /** Resolves when every message is stored ("done"). */
  async untilDone(timeoutMs: number): Promise<void> {
    if (this.#done) return;
    const child = this.#child;
    if (!child) throw new Error(`client ${this.clientId} is not running`);
    await child.waitFor((l) => l === "done", timeoutMs, `client ${this.clientId} storing every message`);
  }

  /** Asks the client to flush and close; resolves when it did (its stats are then set). */
  async finish(timeoutMs: number): Promise<void> {
    const child = this.#child;
    if (!child) throw new Error(`client ${this.clientId} is not running`);
    const flushed = child.waitFor(
      (l) => l.startsWith("flushed ") || l.startsWith("error "),
      timeoutMs,
      `client ${this.clientId} flushing`,
    );
    child.writeLine("finish");
    const line = await flushed;
    if (line.startsWith("error ")) throw new Error(`client ${this.clientId} could not flush: ${line}`);
    await child.exited;
    this.#child = undefined;
  }
}
