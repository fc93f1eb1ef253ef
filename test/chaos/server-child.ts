/**
 * Child process: the chaos suite's server. Usage: node server-child.js '<ServerChildConfig JSON>'.
 *
 * Every handler call is appended to the records file with a synchronous write(2)
 * before the handler returns, so a record survives this process's SIGKILL (it is in
 * the kernel's page cache) and exists for every message the server acknowledged:
 *   H <generation> <clientId> <seq> <redelivery 0|1> <payload index or -1 when corrupt>
 *   R <generation> <clientId> <seq>    a redelivery of a seq already recorded: skipped
 * The handler is idempotent the way docs/server.md asks an application to be: a
 * message flagged `redelivery` whose seq is already recorded is not applied again
 * (the crash window: handled, then killed before the dedup state was synced).
 *
 * Prints one JSON line on stdout: {"event":"listening","port":N}. SIGTERM closes the
 * server gracefully and exits; stdin closing (the parent died) exits at once.
 */

import { appendFileSync, closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { createServer } from "../../src/server/index.js";
import { checkPayload } from "./payload.js";

export interface ServerChildConfig {
  readonly host: string;
  readonly port: number;
  readonly stateDir: string;
  readonly recordsFile: string;
  readonly generation: number;
}

function say(event: Record<string, unknown>): void {
  writeSync(1, `${JSON.stringify(event)}\n`);
}

/** The highest seq already applied per clientId, from the records of earlier generations. */
function lastRecorded(file: string): Map<string, number> {
  const last = new Map<string, number>();
  if (!existsSync(file)) return last;
  for (const line of readFileSync(file, "latin1").split("\n")) {
    const parts = line.split(" ");
    if (parts[0] !== "H" || parts.length !== 6) continue; // a torn last line has fewer parts
    const clientId = parts[2] ?? "";
    last.set(clientId, Math.max(last.get(clientId) ?? 0, Number(parts[3])));
  }
  return last;
}

const config = JSON.parse(process.argv[2] ?? "{}") as ServerChildConfig;
const last = lastRecorded(config.recordsFile);
const fd = openSync(config.recordsFile, "a");
const gen = config.generation;

const server = createServer({
  state: config.stateDir,
  // Chaos links can stay silent for seconds (blackholes); the client's heartbeat decides, not this.
  idleTimeoutMs: 30_000,
  onMessage: ({ clientId, seq, redelivery, data }) => {
    const done = last.get(clientId) ?? 0;
    if (redelivery && seq <= done) {
      appendFileSync(fd, `R ${gen} ${clientId} ${seq}\n`);
      return;
    }
    appendFileSync(fd, `H ${gen} ${clientId} ${seq} ${redelivery ? 1 : 0} ${checkPayload(data)}\n`);
    if (seq > done) last.set(clientId, seq);
  },
});
server.on("error", (err) => {
  process.stderr.write(`server-child: server error: ${err.stack ?? err.message}\n`);
  process.exit(3);
});
server.on("handlerError", (err: unknown) => process.stderr.write(`server-child: handler error: ${String(err)}\n`));

let address: { port: number } | undefined;
for (let attempt = 0; address === undefined; attempt++) {
  try {
    address = await server.listen({ port: config.port, host: config.host });
  } catch (err) {
    // The killed generation's port can be busy for a moment while the kernel tears it down.
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 50) throw err;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
say({ event: "listening", port: address.port, pid: process.pid });

process.once("SIGTERM", () => {
  const hardStop = setTimeout(() => process.exit(1), 5000);
  server.close().then(
    () => {
      clearTimeout(hardStop);
      closeSync(fd);
      say({ event: "closed", stats: server.stats() });
      process.exit(0);
    },
    () => process.exit(1),
  );
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
