/**
 * `outlast send --metrics HOST:PORT`: a robot's supervisor scrapes the client's
 * health (queue depth, oldest queued age, in flight, drops by reason, reconnects
 * by kind, ack latency) from `client.stats()` at scrape time; `/readyz` is ready
 * while the link is open. prom-client, loaded only with --metrics.
 */

import type { Client } from "../../index.js";
import type { HostPort } from "../config.js";
import { startHttpEndpoint, text, type HttpEndpoint } from "./http-endpoint.js";

export async function startClientMetrics(listen: HostPort, client: () => Client | undefined): Promise<HttpEndpoint> {
  const prom = await import("prom-client");
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const stats = (): ReturnType<Client["stats"]> | undefined => client()?.stats();
  const gauge = (name: string, help: string, read: (s: ReturnType<Client["stats"]>) => number): void => {
    new prom.Gauge({
      name,
      help,
      registers,
      collect() {
        const s = stats();
        if (s !== undefined) this.set(read(s));
      },
    });
  };
  gauge(
    "outlast_client_queued_messages",
    "Messages stored and not yet acknowledged nor dropped.",
    (s) => s.queuedMessages,
  );
  gauge("outlast_client_queued_bytes", "Bytes of the queued messages.", (s) => s.queuedBytes);
  gauge(
    "outlast_client_oldest_queued_seconds",
    "Age of the oldest queued message; 0 when none.",
    (s) => s.oldestQueuedAgeMs / 1000,
  );
  gauge("outlast_client_in_flight_messages", "Messages sent and not yet acknowledged.", (s) => s.inFlightMessages);
  gauge("outlast_client_in_flight_bytes", "Bytes sent and not yet acknowledged.", (s) => s.inFlightBytes);
  gauge("outlast_client_connected", "1 while the link to a server is open.", () =>
    client()?.state === "open" ? 1 : 0,
  );
  // Cumulative client counters, exposed as counters whose value is read at scrape time.
  const counter = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (s: ReturnType<Client["stats"]>) => Readonly<Record<string, number>> | number,
  ): void => {
    new prom.Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        const s = stats();
        if (s === undefined) return;
        const value = read(s);
        this.reset();
        if (typeof value === "number") this.inc(value);
        else for (const [label, n] of Object.entries(value)) this.inc({ [labelNames[0] as string]: label }, n);
      },
    });
  };
  counter("outlast_client_sent_total", "Message frames written, resends included.", [], (s) => s.sent);
  counter("outlast_client_resends_total", "Message frames written again after a reconnect.", [], (s) => s.resends);
  counter("outlast_client_acknowledged_total", "Messages acknowledged by the server.", [], (s) => s.acknowledged);
  counter(
    "outlast_client_drops_total",
    "Messages dropped, by reason (full, expired, tooLarge).",
    ["reason"],
    (s) => s.drops,
  );
  counter(
    "outlast_client_reconnects_total",
    "Connection losses by kind (goodbye: the server drained; reset, refused, timeout, ...).",
    ["kind"],
    (s) => s.reconnects,
  );
  new prom.Gauge({
    name: "outlast_client_ack_latency_seconds",
    help: "Write-to-acknowledgement latency over the last 4096 acknowledged messages, by quantile.",
    labelNames: ["quantile"] as const,
    registers,
    collect() {
      const s = stats();
      if (s === undefined) return;
      this.set({ quantile: "0.5" }, s.ackLatencyP50Ms / 1000);
      this.set({ quantile: "0.99" }, s.ackLatencyP99Ms / 1000);
    },
  });
  return startHttpEndpoint(listen, {
    "/metrics": async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
    "/healthz": () => text(200, "ok\n"),
    "/readyz": () => {
      const state = client()?.state ?? "starting";
      return text(state === "open" ? 200 : 503, `${state === "open" ? "ready" : "not ready"}\nlink ${state}\n`);
    },
  });
}
