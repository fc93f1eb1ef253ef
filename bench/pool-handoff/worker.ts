/** A worker of bench/pool-handoff.ts: a no-op server (memory state) served from the pool. */
import { createServer, serveFromPool } from "../../src/server/index.js";

await serveFromPool(createServer({ onMessage: () => {} }));
