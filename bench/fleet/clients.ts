/**
 * One process of bench/fleet.ts's clients: `count` real clients with default options.
 * IPC: { open } once all are open (again after every reconnect wave); "burst" -> each
 * sends one message, { burst } once all are acknowledged; "stats" -> { errors, open }.
 * argv: url prefix count
 */
import { connect } from "../../src/index.js";
import type { Client } from "../../src/index.js";

const [url, prefix, countArg] = process.argv.slice(2);
const count = Number(countArg);
const clients: Client[] = [];
let open = 0;
let errors = 0;
for (let i = 0; i < count; i++) {
  const client = connect(url as string, { clientId: `${prefix}-${i}` });
  client.on("error", () => errors++);
  client.on("stateChange", ({ from, to }) => {
    if (to === "open" && ++open === count) process.send?.({ open });
    if (from === "open") open--;
  });
  clients.push(client);
}
process.on("message", (msg: string) => {
  if (msg === "stats") process.send?.({ errors, open });
  if (msg === "burst")
    void Promise.all(clients.map((c) => c.send("burst"))).then(() => process.send?.({ burst: count }));
  if (msg === "close") void Promise.all(clients.map((c) => c.destroy())).then(() => process.exit(0));
});
