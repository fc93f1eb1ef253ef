/**
 * One worker of bench/fleet/pool-server.ts: what bench/fleet/server.ts runs (createServer, no-op
 * handler, memory state), served from the pool (serveFromPool). It answers the bench's probes
 * (probe.ts) over a loopback control connection to the pool's primary (BENCH_POOL_CONTROL = its
 * port): newline-delimited JSON, { id, msg } in, { id, reply } out. Run with --expose-gc.
 */
import net from "node:net";
import { createInterface } from "node:readline";
import { createServer, serveFromPool } from "../../src/server/index.js";
import { probe } from "./probe.js";

const server = createServer({ onMessage: () => {} });
const answer = probe(() => server.stats());
const control = net.connect({ port: Number(process.env["BENCH_POOL_CONTROL"]), host: "127.0.0.1" });
control.on("error", () => {}); // the primary went away: the pool stops this worker too
control.unref();
createInterface({ input: control }).on("line", (line) => {
  const { id, msg } = JSON.parse(line) as { id: number; msg: unknown };
  void answer(msg).then((reply) => control.write(`${JSON.stringify({ id, reply: reply ?? null })}\n`));
});
await serveFromPool(server);
control.destroy();
