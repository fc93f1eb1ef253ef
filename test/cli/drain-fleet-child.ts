/**
 * A child process of the SIGTERM drain test: `count` clients (clientIds
 * `fleet-<first>` ...), each given both servers' addresses. Reports over IPC:
 * `connected` once every client is open; on `go`, each sends a message every
 * `intervalMs` until `stop`, then waits until all are acknowledged, and the
 * child reports per client what it sent, where it was connected, its GOODBYEs,
 * its errors.
 */
import { connect, type Client, type StateChangeEvent } from "../../src/index.js";

const [urlA, urlB, countText, firstText, intervalText] = process.argv.slice(2);
const count = Number(countText);
const first = Number(firstText);
const intervalMs = Number(intervalText);
let stopped = false;
const send = (m: unknown): void => void process.send?.(m);

export interface FleetClientReport {
  readonly clientId: string;
  readonly sent: number;
  readonly acknowledged: number;
  readonly errors: string[];
  /** The server of each open link, in order. */
  readonly opens: string[];
  /** Date.now() when a GOODBYE ended a link. */
  readonly goodbyeAtMs: number[];
  /** Date.now() of each open. */
  readonly openAtMs: number[];
  readonly reconnects: Readonly<Record<string, number>>;
}

interface Tracked {
  readonly client: Client;
  readonly report: FleetClientReport & { sent: number; acknowledged: number };
}

const fleet: Tracked[] = [];
for (let i = 0; i < count; i++) {
  const clientId = `fleet-${first + i}`;
  const client = connect([urlA as string, urlB as string], { clientId });
  const report = {
    clientId,
    sent: 0,
    acknowledged: 0,
    errors: [] as string[],
    opens: [] as string[],
    goodbyeAtMs: [] as number[],
    openAtMs: [] as number[],
    reconnects: {},
  };
  client.on("error", (err) => report.errors.push(`${(err as { code?: string }).code ?? ""} ${err.message}`));
  client.on("stateChange", (e: StateChangeEvent) => {
    if (e.to === "open") {
      report.opens.push(client.serverUrl ?? "?");
      report.openAtMs.push(Date.now());
      if (fleet.length === count && fleet.every((t) => t.client.state === "open") && !connectedSent) {
        connectedSent = true;
        send({ type: "connected" });
      }
    }
    if (e.from === "open" && e.to === "waiting" && e.error === undefined) report.goodbyeAtMs.push(Date.now());
  });
  fleet.push({ client, report });
}
let connectedSent = false;
if (fleet.every((t) => t.client.state === "open")) {
  connectedSent = true;
  send({ type: "connected" });
}

async function stream(t: Tracked): Promise<void> {
  while (!stopped) {
    await t.client.send(`${t.report.clientId}:${t.report.sent + 1}`, { wait: "stored" });
    t.report.sent++;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  await t.client.flush();
}

let streams: Promise<void[]> | undefined;
process.on("message", (m: { type: string }) => {
  if (m.type === "go") {
    streams = Promise.all(fleet.map(stream));
    return;
  }
  if (m.type !== "stop" || streams === undefined) return;
  stopped = true;
  void streams.then(async () => {
    const reports = fleet.map((t) => ({
      ...t.report,
      acknowledged: t.client.stats().acknowledged,
      reconnects: t.client.stats().reconnects,
    }));
    send({ type: "done", reports });
    await Promise.all(fleet.map((t) => t.client.close()));
    process.disconnect?.();
  });
});
