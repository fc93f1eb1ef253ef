/**
 * The outlast server of bench/fleet.ts: createServer with a no-op synchronous handler
 * and memory state on a given port (default maxConnections: the fd limit minus 5%).
 * IPC: sends { port } once listening; answers "sample", "sample:settled", "stall:start" and
 * "stall:stop" (probe.ts). Run with --expose-gc.
 * argv: port [maxConnections]
 */
import { createServer } from "../../src/server/index.js";
import { probe } from "./probe.js";

const maxConnections = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const server = createServer({ onMessage: () => {}, ...(maxConnections === undefined ? {} : { maxConnections }) });
const { port } = await server.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1" });
process.send?.({ port });
const answer = probe(() => server.stats());
process.on("message", (msg) => {
  void answer(msg).then((reply) => {
    if (reply !== undefined) process.send?.(reply);
  });
});
