/**
 * The server side of bench/pool-handoff.ts, in its own process (so the clients' CPU is not counted):
 * argv "plain" (createServer, one process) or "pool" (createServerPool, 1 worker: worker.ts). Prints one
 * line of JSON `{ port, primary, workers }` (pids), then serves until killed.
 */
import { createServer, createServerPool } from "../../src/server/index.js";

const mode = process.argv[2];
if (mode === "plain") {
  const server = createServer({ onMessage: () => {} });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  process.stdout.write(`${JSON.stringify({ port, primary: process.pid, workers: [] })}\n`);
} else {
  const pool = createServerPool({ workers: 1, module: new URL("./worker.js", import.meta.url) });
  const workers: number[] = [];
  pool.on("workerReady", ({ pid }) => workers.push(pid));
  const { port } = await pool.listen({ port: 0, host: "127.0.0.1" });
  process.stdout.write(`${JSON.stringify({ port, primary: process.pid, workers })}\n`);
}
