/**
 * One process of bench/fleet.ts's outlast clients: `count` real clients with default
 * options, created in steps of RAMP_STEP every RAMP_MS (a first deployment is not one
 * instant; the restart phase is the storm). IPC (same for mqtt-clients.ts):
 * - { open } once all are open, and again after every reconnect wave;
 * - "burst" -> each sends one message, { burst } once all are acknowledged; "burst:K" -> each
 *   sends K at once (pipelined);
 * - "stats" -> { errors, open, codes } (errors: `error` events, which a connection fault never is; codes: how many of each code);
 * - "close" -> destroys every client and exits.
 * argv: url prefix count (url: one, or several joined by "|": client i uses url i mod their number)
 */
import { connect } from "../../src/index.js";
import type { Client } from "../../src/index.js";

const RAMP_STEP = 200;
const RAMP_MS = 50;

const [url, prefix, countArg] = process.argv.slice(2);
const count = Number(countArg);
const clients: Client[] = [];
let open = 0;
let errors = 0;
const codes: Record<string, number> = {};

function add(i: number): void {
  // Several servers ("url|url|..."): client i always goes to the same one (outlast-xK, contenders.ts).
  const urls = (url as string).split("|");
  const client = connect(urls[i % urls.length] as string, { clientId: `${prefix}-${i}` });
  client.on("error", (err) => {
    errors++;
    const code = (err as { code?: unknown }).code;
    const key = typeof code === "string" ? code : err.name;
    codes[key] = (codes[key] ?? 0) + 1;
  });
  client.on("stateChange", ({ from, to }) => {
    if (to === "open" && ++open === count) process.send?.({ open });
    if (from === "open") open--;
  });
  clients.push(client);
}

for (let i = 0; i < count; i += RAMP_STEP) {
  for (let k = i; k < Math.min(count, i + RAMP_STEP); k++) add(k);
  await new Promise((r) => setTimeout(r, RAMP_MS));
}

process.on("message", (msg: string) => {
  if (msg === "stats") process.send?.({ errors, open, codes });
  if (msg.startsWith("burst")) {
    const k = Number(msg.split(":")[1] ?? 1);
    const sends = clients.flatMap((c) => Array.from({ length: k }, () => c.send("burst")));
    void Promise.all(sends).then(() => process.send?.({ burst: count }));
  }
  if (msg === "close") void Promise.all(clients.map((c) => c.destroy())).then(() => process.exit(0));
});
