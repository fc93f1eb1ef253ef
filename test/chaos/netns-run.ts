/**
 * A chaos run with REAL kernel faults: client namespace -- veth -- server
 * namespace, created for the run. The server child runs in the server
 * namespace (without netem behind the fault proxy that makes the delay, also
 * there), the clients in the client namespace. Kernel faults from a seeded plan, one at a
 * time, on the veth; then the same checker as the proxy runs.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { NetnsLab } from "../helpers/netns.js";
import { checkDelivery } from "./checker.js";
import { ChaosClient, ChaosServer } from "./fixtures.js";
import {
  createKernelPlan,
  createLink,
  KERNEL_FAULT_KINDS,
  KernelFaults,
  type KernelFault,
  type Mechanisms,
} from "./kernel-faults.js";
import { startProxyProcess, type ProxyProcess } from "./proxy-process.js";
import type { ChaosReport } from "./run-chaos.js";

const CLIENT_ADDR = "10.78.0.1";
const SERVER_ADDR = "10.78.0.2";

export interface NetnsChaosOptions {
  readonly seed: number;
  readonly messages: number;
  readonly clients: number;
  readonly faults: number;
  readonly log?: (line: string) => void;
}

export interface NetnsChaosReport extends ChaosReport {
  readonly mechanisms: Mechanisms;
}

export async function runNetnsChaos(options: NetnsChaosOptions): Promise<NetnsChaosReport> {
  const log = options.log ?? (() => undefined);
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "outlast-netns-chaos-"));
  const recordsFile = join(dir, "records.txt");
  const lab = new NetnsLab();
  const failures: string[] = [];
  const clients: ChaosClient[] = [];
  let server: ChaosServer | undefined;
  let proxy: ProxyProcess | undefined;
  let mechanisms: Mechanisms | undefined;
  let plan: KernelFault[] = [];
  const perClient = Math.ceil(options.messages / options.clients);
  try {
    const link = await createLink(lab, "chaos", { client: CLIENT_ADDR, server: SERVER_ADDR });
    const { clientNs, serverNs } = link;
    const kernel = new KernelFaults(lab, link);
    mechanisms = await kernel.prepare();
    for (const [kind, m] of Object.entries(mechanisms))
      log(`${kind}: ${m.available ? m.how : `NOT POSSIBLE here: ${m.how}`}`);
    const kinds = KERNEL_FAULT_KINDS.filter(
      (k) => mechanisms?.[k].available === true && (kernel.netem || k !== "delay"),
    );
    plan = createKernelPlan(options.seed, options.faults, kinds);
    const planMs = plan.reduce((t, f) => t + f.durationMs + f.gapMs, 0);

    const serverHost = kernel.netem ? SERVER_ADDR : "127.0.0.1";
    server = new ChaosServer({ host: serverHost, port: 0, stateDir: join(dir, "state"), recordsFile }, [
      "ip",
      "netns",
      "exec",
      serverNs,
    ]);
    const port = await server.start();
    let target = `${SERVER_ADDR}:${port}`;
    if (!kernel.netem) {
      // In the server namespace, on the veth address, in front of the server on loopback: the
      // client still meets the kernel faults directly, so it sees the kernel's own errors.
      proxy = await startProxyProcess({
        listen: `${SERVER_ADDR}:0`,
        upstream: `127.0.0.1:${port}`,
        seed: options.seed,
        extraArgs: ["--latency", "15ms±10"],
        wrapper: ["ip", "netns", "exec", serverNs],
      });
      target = `${SERVER_ADDR}:${proxy.port}`;
      log(
        `delay: outlast proxy in the server namespace (client -- veth -- proxy -- server), latency 15ms±10 on every chunk, for the whole run`,
      );
    }
    const ratePerSec = perClient / ((planMs * 0.9) / 1000);
    for (let i = 0; i < options.clients; i++) {
      clients.push(
        new ChaosClient(
          {
            url: `tcp://${target}`,
            clientId: `netns-${options.seed}-${i}`,
            count: perClient,
            ratePerSec,
            payloadBytes: 200,
            heartbeatIntervalMs: 1000, // the server beats (protocol v2): kernel faults meet the beats path
            connectTimeoutMs: 1000,
            maxQueuedMessages: 2000,
            flushTimeoutMs: 60_000,
          },
          ["ip", "netns", "exec", clientNs],
        ),
      );
    }
    await Promise.all(clients.map((c) => c.start()));
    log(
      `seed ${options.seed}: ${plan.length} kernel faults over ${planMs} ms, ${perClient} messages x ${options.clients} clients`,
    );

    for (const [i, f] of plan.entries()) {
      log(`kernel fault ${i + 1}/${plan.length}: ${JSON.stringify(f)}`);
      const end = await kernel.apply(f);
      await sleep(f.durationMs);
      await end();
      await sleep(f.gapMs);
    }
    log(`plan done at ${Math.round(performance.now() - started)} ms; settling`);
    try {
      await Promise.all(clients.map((c) => c.untilDone(60_000)));
      await Promise.all(clients.map((c) => c.finish(60_000)));
    } catch (err) {
      failures.push(`hang: ${(err as Error).message}`);
    }
    await server.stop();
  } catch (err) {
    failures.push(`run failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await Promise.all(clients.map((c) => c.kill()));
    await server?.kill();
    await proxy?.stop(5000);
    await lab.destroy().catch((err: unknown) => failures.push(String(err)));
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
  failures.push(...(server?.crashes ?? []));
  const faultsByKind: Record<string, number> = {};
  for (const f of plan) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
  if (proxy !== undefined) faultsByKind["delay (proxy, whole run)"] = 1;
  const clientReconnects: Record<string, number> = {};
  let resends = 0;
  for (const c of clients) {
    resends += c.stats?.resends ?? 0;
    for (const [kind, n] of Object.entries(c.stats?.reconnects ?? {}))
      clientReconnects[kind] = (clientReconnects[kind] ?? 0) + n;
  }
  const unavailable = Object.fromEntries(
    KERNEL_FAULT_KINDS.map((k) => [k, { how: "not prepared", available: false }]),
  ) as unknown as Mechanisms;
  return {
    ...check,
    name: "netns-kernel-faults",
    seed: options.seed,
    messagesPlanned: perClient * options.clients,
    faultsByKind,
    faultsTotal: plan.length,
    proxyApplied: {},
    serverGenerations: server?.generation ?? 0,
    clientReconnects,
    resends,
    failures,
    knownIssues: [],
    warnings: clients.flatMap((c) => c.warnings),
    elapsedMs: Math.round(performance.now() - started),
    passed: check.ok && failures.length === 0 && check.messagesDelivered === perClient * options.clients,
    mechanisms: mechanisms ?? unavailable,
  };
}
