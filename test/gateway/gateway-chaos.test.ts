/**
 * Seeded chaos through gateways: several clients, each knowing every gateway (through a
 * fault proxy each), send while a gateway is SIGKILLed (and started again), the stream
 * leader's nats-server is SIGKILLed and restarted, and the proxies reset client links.
 * Then the whole stream is read back: per client every seq exactly once, in order.
 *
 * OUTLAST_GATEWAY_CHAOS_SEED replays a run; OUTLAST_GATEWAY_CHAOS_MESSAGES sizes it
 * (default 100,000, as issue 10 asks: ~16 s on a quiet 2-core machine).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { connect } from "../../src/client/client.js";
import type { Client } from "../../src/client/client.js";
import { createProxy } from "../../src/proxy/index.js";
import type { FaultProxy } from "../../src/proxy/index.js";
import { createRandom } from "../../src/proxy/random.js";
import { NatsCluster, freePort, natsSkipReason } from "../helpers/nats-cluster.js";
import { checkStream, readStream, streamLeader } from "../helpers/nats-stream.js";
import { GatewayProcess } from "./gateway-process.js";

const skip = natsSkipReason();
const seed = Number(process.env["OUTLAST_GATEWAY_CHAOS_SEED"] ?? Math.floor(Math.random() * 1_000_000));
const total = Number(process.env["OUTLAST_GATEWAY_CHAOS_MESSAGES"] ?? 100_000);
const CLIENTS = 8;
const GATEWAYS = 3;

test(
  `gateway chaos: ${total} messages, gateway and stream-leader SIGKILLs, link resets (seed ${seed})`,
  { skip, timeout: 300_000 },
  async (t) => {
    t.diagnostic(`gateway chaos seed ${seed} (replay: OUTLAST_GATEWAY_CHAOS_SEED=${seed}), ${total} messages`);
    const random = createRandom(seed);
    const cluster = await NatsCluster.start();
    t.after(() => cluster.stop());
    const args = ["--forward", cluster.urls, "--stream", "CHAOS", "--publish-timeout", "1s"];
    const gateways: GatewayProcess[] = [];
    for (let i = 0; i < GATEWAYS; i++) gateways.push(new GatewayProcess(await freePort(), args));
    t.after(() => Promise.all(gateways.map((g) => g.kill())));
    await gateways[0]?.start(); // creates the stream
    await Promise.all(gateways.slice(1).map((g) => g.start()));
    const proxies: FaultProxy[] = [];
    for (const [i, g] of gateways.entries()) {
      const proxy = createProxy({ upstream: { host: "127.0.0.1", port: g.port }, seed: seed + i });
      await proxy.listen();
      proxies.push(proxy);
    }
    t.after(() => Promise.all(proxies.map((p) => p.close())));
    const urls = proxies.map((p) => `tcp://127.0.0.1:${p.address()?.port ?? 0}`);

    const perClient = Math.ceil(total / CLIENTS);
    let acknowledged = 0;
    const waiters: { at: number; resolve: () => void }[] = [];
    const progressed = (): void => {
      acknowledged++;
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i] as { at: number; resolve: () => void };
        if (acknowledged >= w.at) {
          waiters.splice(i, 1);
          w.resolve();
        }
      }
    };
    const reach = (fraction: number): Promise<void> =>
      new Promise((resolve) => {
        const at = Math.floor(fraction * perClient * CLIENTS);
        if (acknowledged >= at) resolve();
        else waiters.push({ at, resolve });
      });

    const clients: Client[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      const client = connect(urls, { clientId: `robot-${c}`, backoff: { baseMs: 50, capMs: 1000 } });
      client.on("error", () => undefined);
      clients.push(client);
    }
    t.after(() => Promise.all(clients.map((c) => c.destroy())));
    const sending = clients.map(async (client, c) => {
      const sends: Promise<unknown>[] = [];
      for (let n = 1; n <= perClient; n++) sends.push(client.send(`robot-${c}:${n}`).then(progressed));
      await Promise.all(sends);
    });

    // The faults, at seeded points of the run (by acknowledged count, not by wall time).
    const log: string[] = [];
    const victim = gateways[Math.floor(random() * GATEWAYS)] as GatewayProcess;
    const gatewayAt = 0.15 + random() * 0.2;
    const leaderAt = 0.45 + random() * 0.2;
    const resets = Array.from({ length: 4 }, () => 0.05 + random() * 0.85).sort((a, b) => a - b);
    const faults = (async () => {
      const plan: [number, () => Promise<void>][] = [
        [
          gatewayAt,
          async () => {
            await victim.kill();
            log.push(`SIGKILL gateway :${victim.port} at ${acknowledged}`);
          },
        ],
        [
          gatewayAt + 0.1,
          async () => {
            await victim.start();
            log.push(`gateway :${victim.port} back at ${acknowledged}`);
          },
        ],
        [
          leaderAt,
          async () => {
            const leader = cluster.node(await streamLeader(cluster.urls, "CHAOS"));
            await cluster.kill(leader);
            log.push(`SIGKILL stream leader ${leader.name} at ${acknowledged}`);
            await reach(Math.min(leaderAt + 0.1, 0.95));
            await cluster.startNode(leader);
            log.push(`${leader.name} back at ${acknowledged}`);
          },
        ],
        ...resets.map((at): [number, () => Promise<void>] => [
          at,
          () => {
            const proxy = proxies[Math.floor(random() * proxies.length)] as FaultProxy;
            const fault = proxy.addFault({ kind: "reset", direction: "both" });
            fault.remove();
            log.push(`reset links of proxy ${proxies.indexOf(proxy)} at ${acknowledged}`);
            return Promise.resolve();
          },
        ]),
      ];
      plan.sort((a, b) => a[0] - b[0]);
      for (const [at, act] of plan) {
        await reach(at);
        await act();
      }
    })();
    await Promise.all(sending);
    await faults;
    t.diagnostic(log.join("; "));

    const records = await readStream(cluster.urls, "CHAOS");
    const expected = new Map(clients.map((_, c) => [`robot-${c}`, Array.from({ length: perClient }, (_, i) => i + 1)]));
    const check = checkStream(records, expected);
    const summary = `seed ${seed}: ${records.length} stored, lost ${check.lost.length}, duplicated ${check.duplicated.length}, reordered ${check.reordered.length}`;
    t.diagnostic(summary);
    assert.deepEqual(
      {
        lost: check.lost.slice(0, 10),
        duplicated: check.duplicated.slice(0, 10),
        reordered: check.reordered.slice(0, 10),
      },
      { lost: [], duplicated: [], reordered: [] },
      `${summary}; faults: ${log.join("; ")}`,
    );
    assert.equal(records.length, perClient * CLIENTS, summary);
    for (const r of records) assert.equal(Buffer.from(r.data).toString(), `${r.clientId}:${r.seq}`);
  },
);
