/** Helpers for test/server/pool*.test.ts: a pool of fixtures/pool-worker.js processes, its calls file, events. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { createServerPool } from "../../src/server/index.js";
import type { ServerPool, ServerPoolOptions, WorkerExitInfo, WorkerReadyInfo } from "../../src/server/index.js";

export const POOL_WORKER = join(import.meta.dirname, "fixtures", "pool-worker.js");

/** What fixtures/pool-worker.ts reads from its argv. */
export interface WorkerConfig {
  stateDir?: string;
  callsFile?: string;
  handshakeTimeoutMs?: number;
  authenticateAs?: Record<string, string>;
  tls?: boolean;
  hangAt?: { clientId: string; seq: number; marker: string };
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "outlast-pool-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface StartedPool {
  pool: ServerPool;
  port: number;
  /** Each worker's pid by index, as of its last workerReady. */
  pids: Map<number, number>;
}

/** A listening pool of `workers` fixture workers (destroyed after the test). */
export async function startPool(
  t: TestContext,
  config: WorkerConfig,
  options: Partial<ServerPoolOptions> = {},
): Promise<StartedPool> {
  const pool = createServerPool({ workers: 3, module: POOL_WORKER, args: [JSON.stringify(config)], ...options });
  t.after(() => pool.destroy());
  const pids = new Map<number, number>();
  pool.on("workerReady", ({ index, pid }) => pids.set(index, pid));
  const { port } = await pool.listen({ port: 0, host: "127.0.0.1" });
  return { pool, port, pids };
}

export interface Call {
  pid: string;
  index: number;
  clientId: string;
  seq: number;
  redelivery: boolean;
}

/** The calls file's lines: "pid index clientId seq redelivery". */
export function readCalls(file: string): Call[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const [pid, index, clientId, seq, redelivery] = l.split(" ");
      return {
        pid: pid as string,
        index: Number(index),
        clientId: clientId as string,
        seq: Number(seq),
        redelivery: redelivery === "1",
      };
    });
}

/** Resolves with the first `event` of the pool that `match` accepts (register it before causing the event). */
function nextPoolEvent<T>(
  pool: ServerPool,
  event: "workerExit" | "workerReady",
  match: (info: T) => boolean,
): Promise<T> {
  return new Promise((resolve) => {
    const listener = (info: T): void => {
      if (!match(info)) return;
      pool.off(event, listener as never);
      resolve(info);
    };
    pool.on(event, listener as never);
  });
}

/** Resolves with the first workerExit `match` accepts (register it before causing the exit). */
export function workerExit(
  pool: ServerPool,
  match: (info: WorkerExitInfo) => boolean = () => true,
): Promise<WorkerExitInfo> {
  return nextPoolEvent(pool, "workerExit", match);
}

/** Resolves with the first workerReady `match` accepts. */
export function workerReady(
  pool: ServerPool,
  match: (info: WorkerReadyInfo) => boolean = () => true,
): Promise<WorkerReadyInfo> {
  return nextPoolEvent(pool, "workerReady", match);
}
