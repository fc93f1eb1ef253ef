/**
 * One chaos run: server child <- fault proxy child (`outlast proxy`, driven through
 * its control endpoint) <- client children,
 * faults from a seeded plan (proxy faults, server SIGKILL + restart on its state
 * directory, client SIGKILL + restart on its durable outbox), then every fault
 * removed, the clients flushed, the server stopped, and the checker run.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { checkDelivery, type CheckResult } from "./checker.js";
import {
  countByKind,
  createFaultPlan,
  DEFAULT_WEIGHTS,
  planEndMs,
  type PlanFaultKind,
  type PlannedFault,
} from "./fault-plan.js";
import { ChaosClient, ChaosServer } from "./fixtures.js";
import { startProxyProcess, type ProxyProcess } from "./proxy-process.js";

export interface ChaosRunOptions {
  readonly name: string;
  readonly seed: number;
  /** Messages in all, split evenly over the clients. */
  readonly messages: number;
  readonly clients: number;
  readonly faults: number;
  readonly meanGapMs: number;
  readonly weights?: Readonly<Partial<Record<PlanFaultKind, number>>>;
  /** The durable FileOutbox (needed for client-kill). Default false: the memory outbox. */
  readonly durableOutbox?: boolean;
  readonly payloadBytes?: number;
  /** The clients' window into storage: send() waits when this many are queued. */
  readonly maxQueuedMessages?: number;
  /** How long the clients may take to store and flush everything after the plan ended. */
  readonly settleTimeoutMs?: number;
  /** Progress lines (faults applied, phases). */
  readonly log?: (line: string) => void;
}

export interface ChaosReport extends CheckResult {
  readonly name: string;
  readonly seed: number;
  readonly messagesPlanned: number;
  readonly faultsByKind: Readonly<Record<string, number>>;
  readonly faultsTotal: number;
  /** How many times each proxy fault acted on a connection. */
  readonly proxyApplied: Readonly<Record<string, number>>;
  readonly serverGenerations: number;
  readonly clientReconnects: Readonly<Record<string, number>>;
  readonly resends: number;
  /** Problems outside the checker: a hang, a crashed child. */
  readonly failures: readonly string[];
  /** Bugs outside delivery already reported (printed, not failed). */
  readonly knownIssues: readonly string[];
  /** Client `error` events and links lost to errors classified "other" (printed, not failed). */
  readonly warnings: readonly string[];
  readonly elapsedMs: number;
  readonly passed: boolean;
}

/** 1 s: the smallest interval a v2 server beats for, so the chaos runs the beats path (docs/protocol.md §5). */
const HEARTBEAT_INTERVAL_MS = 1000;
const CONNECT_TIMEOUT_MS = 1000;

/** Runs the proxy faults and kills of the plan, in time; resolves when the last one is over. */
async function executePlan(
  plan: readonly PlannedFault[],
  proxy: ProxyProcess,
  server: ChaosServer,
  clients: readonly ChaosClient[],
  log: (line: string) => void,
): Promise<void> {
  const t0 = performance.now();
  let serverChain = Promise.resolve();
  const clientChains = clients.map(() => Promise.resolve());
  const running: Promise<void>[] = [];
  for (const [i, f] of plan.entries()) {
    const wait = f.atMs - (performance.now() - t0);
    if (wait > 0) await sleep(wait);
    log(`fault ${i + 1}/${plan.length} at ${Math.round(performance.now() - t0)} ms: ${JSON.stringify(f)}`);
    switch (f.kind) {
      case "server-kill":
        serverChain = serverChain.then(async () => {
          await server.kill();
          await sleep(f.downMs);
          await server.start();
        });
        running.push(serverChain);
        break;
      case "client-kill": {
        const client = clients[f.client % clients.length];
        if (client === undefined) break;
        const index = f.client % clients.length;
        const chain = (clientChains[index] ?? Promise.resolve()).then(async () => {
          if (client.done) return; // nothing left to send: a kill now tests nothing the plan meant
          await client.kill();
          await sleep(f.downMs);
          await client.start();
        });
        clientChains[index] = chain;
        running.push(chain);
        break;
      }
      default: {
        const id = await proxy.addFault(f.fault);
        running.push(sleep(f.durationMs).then(() => proxy.removeFault(id)));
      }
    }
  }
  await Promise.all(running);
}

/**
 * Stops the proxy process (SIGTERM: FIN to every connection), SIGKILL after 5 s.
 * Known proxy bug (reported to the lead): a link hit by a close fault and then a reset
 * fault stays "closing" for ever (resetAndDestroy() on the ended socket fails with
 * EINVAL), so the proxy's close() never resolves. It does not touch delivery (the
 * client already moved on), so it is reported as a known issue, not a failure.
 */
async function stopProxy(proxy: ProxyProcess, knownIssues: string[]): Promise<void> {
  const graceMs = 5000;
  if (!(await proxy.stop(graceMs)))
    knownIssues.push(`the proxy did not stop within ${graceMs} ms of SIGTERM (killed): the close-then-reset proxy bug`);
}

export async function runChaos(options: ChaosRunOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "outlast-chaos-"));
  const recordsFile = join(dir, "records.txt");
  const failures: string[] = [];
  const knownIssues: string[] = [];
  const plan = createFaultPlan({
    seed: options.seed,
    faults: options.faults,
    meanGapMs: options.meanGapMs,
    weights: options.weights ?? DEFAULT_WEIGHTS,
    clients: options.clients,
  });
  const endMs = planEndMs(plan);
  const perClient = Math.ceil(options.messages / options.clients);
  const server = new ChaosServer({ host: "127.0.0.1", port: 0, stateDir: join(dir, "state"), recordsFile });
  let proxy: ProxyProcess | undefined;
  let proxyApplied: Record<string, number> = {};
  const clients: ChaosClient[] = [];
  try {
    const port = await server.start();
    proxy = await startProxyProcess({ listen: "127.0.0.1:0", upstream: `127.0.0.1:${port}`, seed: options.seed });
    const address = { port: proxy.port };
    // Sending spans the plan (it ends at ~90% of it), so faults meet traffic from start to end.
    const ratePerSec = Math.max(1, perClient / ((Math.max(endMs, 1000) * 0.9) / 1000));
    for (let i = 0; i < options.clients; i++) {
      clients.push(
        new ChaosClient({
          url: `tcp://127.0.0.1:${address.port}`,
          clientId: `chaos-${options.seed}-${i}`,
          count: perClient,
          ratePerSec,
          payloadBytes: options.payloadBytes ?? 100,
          ...(options.durableOutbox === true ? { outboxDir: join(dir, `outbox-${i}`) } : {}),
          heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          maxQueuedMessages: options.maxQueuedMessages ?? 2000,
          flushTimeoutMs: options.settleTimeoutMs ?? 60_000,
        }),
      );
    }
    await Promise.all(clients.map((c) => c.start()));
    log(
      `seed ${options.seed}: ${plan.length} faults over ${endMs} ms, ${perClient} messages x ${options.clients} clients at ${Math.round(ratePerSec)}/s each`,
    );

    await executePlan(plan, proxy, server, clients, log);
    if (!server.running) await server.start();
    log(`plan done at ${Math.round(performance.now() - started)} ms; settling`);

    const settleMs = options.settleTimeoutMs ?? 60_000;
    try {
      await Promise.all(clients.map((c) => c.untilDone(settleMs)));
      await Promise.all(clients.map((c) => c.finish(settleMs)));
    } catch (err) {
      failures.push(`hang: ${(err as Error).message}`);
    }
    log("clients flushed; stopping the server");
    proxyApplied = await proxy.applied();
    await server.stop();
  } catch (err) {
    failures.push(`run failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await Promise.all(clients.map((c) => c.kill()));
    await server.kill();
    if (proxy) await stopProxy(proxy, knownIssues);
  }

  let records = "";
  try {
    records = readFileSync(recordsFile, "latin1");
  } catch (err) {
    failures.push(`no records: ${(err as Error).message}`);
  }
  rmSync(dir, { recursive: true, force: true });
  const check = checkDelivery(
    records,
    new Map(clients.map((c) => [c.clientId, c.stored] as const)),
    clients.flatMap((c) => c.sendErrors),
  );
  for (const c of clients) failures.push(...c.crashes);
  failures.push(...server.crashes);
  const clientReconnects: Record<string, number> = {};
  let resends = 0;
  for (const c of clients) {
    resends += c.stats?.resends ?? 0;
    for (const [kind, n] of Object.entries(c.stats?.reconnects ?? {}))
      clientReconnects[kind] = (clientReconnects[kind] ?? 0) + n;
  }
  const faultsByKind = countByKind(plan);
  return {
    ...check,
    name: options.name,
    seed: options.seed,
    messagesPlanned: perClient * options.clients,
    faultsByKind,
    faultsTotal: plan.length,
    proxyApplied,
    serverGenerations: server.generation,
    clientReconnects,
    resends,
    failures,
    knownIssues,
    warnings: clients.flatMap((c) => c.warnings),
    elapsedMs: Math.round(performance.now() - started),
    passed: check.ok && failures.length === 0 && check.messagesDelivered === perClient * options.clients,
  };
}
