/**
 * The Prometheus metrics of `outlast serve` (prom-client, loaded only with
 * --metrics): counters read from `server.stats()` at scrape time, histograms fed
 * by the ServerObserver, and the process's default metrics. Names and labels are
 * listed in docs/operations.md.
 */

import type * as PromClient from "prom-client";
import type { Registry } from "prom-client";
import type { ServerObserver } from "./server-observer.js";

/** Seconds: from 100 µs (an fdatasync on NVMe) to 10 s (a stuck handler). */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Raises a counter to `value` (stats are cumulative; a counter only goes up). When the
 * watched server is replaced, its stats start at 0 again: `last` follows the new one.
 */
class CounterFeed {
  readonly #last = new Map<string, number>();
  #server: unknown;

  /** Calls `inc` with how much `value` (cumulative, under `key`) grew since the last scrape. */
  feed(server: unknown, key: string, value: number, inc: (delta: number) => void): void {
    if (server !== this.#server) {
      this.#server = server;
      this.#last.clear();
    }
    const delta = value - (this.#last.get(key) ?? 0);
    this.#last.set(key, value);
    if (delta > 0) inc(delta);
  }
}

export async function serverMetrics(
  observer: ServerObserver,
  { handlerMetrics = true }: { handlerMetrics?: boolean } = {},
): Promise<Registry> {
  const prom = await import("prom-client");
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const stats = (): ReturnType<NonNullable<ServerObserver["server"]>["stats"]> | undefined => observer.server?.stats();
  const feed = new CounterFeed();

  new prom.Gauge({
    name: "outlast_connections",
    help: "Open client connections (handshaking, open or draining).",
    registers,
    collect() {
      this.set(stats()?.connections ?? 0);
    },
  });
  new prom.Gauge({
    name: "outlast_clients",
    help: "clientIds the server keeps state for in memory.",
    registers,
    collect() {
      this.set(stats()?.clients ?? 0);
    },
  });
  const messages = new prom.Counter({
    name: "outlast_messages_total",
    help: "Messages by result: handled (handler succeeded), duplicate (a resend skipped), rejected (handler threw; not acknowledged, the client resends), dead_letter (given to onDeadLetter).",
    labelNames: ["result"] as const,
    registers,
    collect() {
      const s = stats();
      if (s === undefined) return;
      const byResult = {
        handled: s.messagesProcessed - s.deadLettered,
        duplicate: s.duplicatesSkipped,
        rejected: s.handlerFailures,
        dead_letter: s.deadLettered,
      };
      for (const [result, value] of Object.entries(byResult))
        feed.feed(observer.server, `messages:${result}`, value, (d) => this.inc({ result }, d));
    },
  });
  // Every result is a series from the first scrape on (0), so rate() and alerts see it.
  for (const result of ["handled", "duplicate", "rejected", "dead_letter"]) messages.inc({ result }, 0);
  const counter = (name: string, help: string, read: (s: NonNullable<ReturnType<typeof stats>>) => number): void => {
    new prom.Counter({
      name,
      help,
      registers,
      collect() {
        const s = stats();
        if (s !== undefined) feed.feed(observer.server, name, read(s), (d) => this.inc(d));
      },
    });
  };
  counter("outlast_auth_rejections_total", "Connections rejected by the credentials check.", (s) => s.authRejected);
  counter(
    "outlast_protocol_errors_total",
    "Connections closed for a protocol violation (garbage, an oversized frame, a frame out of order).",
    (s) => s.protocolErrors,
  );
  counter(
    "outlast_busy_rejections_total",
    "Connections turned away with OUTLAST_SERVER_BUSY (maxConnections reached).",
    (s) => s.busyRejected,
  );
  counter("outlast_connections_accepted_total", "Sockets accepted.", (s) => s.connectionsAccepted);

  if (handlerMetrics) perProcessMetrics(prom, registers, observer);
  new prom.Gauge({
    name: "outlast_draining",
    help: "1 while the server drains (SIGTERM): clients are being sent elsewhere.",
    registers,
    collect() {
      this.set(observer.draining ? 1 : 0);
    },
  });
  return registry;
}

/** What only the process that runs the handler can measure (fed by the observer's channels). */
function perProcessMetrics(prom: typeof PromClient, registers: Registry[], observer: ServerObserver): void {
  const handler = new prom.Histogram({
    name: "outlast_handler_seconds",
    help: "Time inside the message handler (for serve: writing the message to the output).",
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const ack = new prom.Histogram({
    name: "outlast_ack_latency_seconds",
    help: "From a message's handler call to its acknowledgement being due (handler + state commit).",
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const commit = new prom.Histogram({
    name: "outlast_state_commit_seconds",
    help: "One group commit (fdatasync) of the state directory; none without --state.",
    buckets: LATENCY_BUCKETS,
    registers,
  });
  observer.onHandler = (s) => handler.observe(s);
  observer.onAck = (s) => ack.observe(s);
  observer.onCommit = (s) => commit.observe(s);

  new prom.Gauge({
    name: "outlast_oldest_unacknowledged_seconds",
    help: "Age of the oldest message handed to the handler and not acknowledged yet.",
    registers,
    collect() {
      this.set(observer.oldestUnacknowledgedSeconds());
    },
  });
}
