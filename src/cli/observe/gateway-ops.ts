/**
 * `outlast serve --forward ... --metrics HOST:PORT`: the operations port of a
 * gateway. `/metrics` reads `gateway.stats()` at scrape time (the same
 * `outlast_connections` and `outlast_messages_total{result="handled"}` as a
 * plain server, plus the NATS link), `/readyz` adds the "stream" check: the
 * NATS connection is up, so the stream is reachable. prom-client, loaded only
 * with --metrics.
 */

import type { Gateway } from "../../gateway/index.js";
import type { HostPort } from "../config.js";
import { startHttpEndpoint, text, type HttpEndpoint } from "./http-endpoint.js";
import type { Readiness } from "./readiness.js";

export async function startGatewayOps(
  listen: HostPort,
  gateway: Gateway,
  readiness: Readiness,
  draining: () => boolean,
): Promise<HttpEndpoint> {
  const prom = await import("prom-client");
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const gauge = (name: string, help: string, read: (s: ReturnType<Gateway["stats"]>) => number): void => {
    new prom.Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(gateway.stats()));
      },
    });
  };
  gauge("outlast_connections", "Open client connections.", (s) => s.connections);
  gauge("outlast_clients", "clientIds with a pipeline on this gateway.", (s) => s.clients);
  gauge("outlast_gateway_nats_connected", "1 while the NATS connection is up (the stream is reachable).", (s) =>
    s.natsConnected ? 1 : 0,
  );
  gauge("outlast_draining", "1 while the gateway drains (SIGTERM).", () => (draining() ? 1 : 0));
  const counter = (
    name: string,
    help: string,
    read: (s: ReturnType<Gateway["stats"]>) => number,
    labels?: Record<string, string>,
  ): void => {
    new prom.Counter({
      name,
      help,
      labelNames: labels === undefined ? [] : Object.keys(labels),
      registers,
      collect() {
        this.reset();
        if (labels === undefined) this.inc(read(gateway.stats()));
        else this.inc(labels, read(gateway.stats()));
      },
    });
  };
  counter(
    "outlast_messages_total",
    "Messages by result; a gateway reports handled (stored in the stream and acknowledged).",
    (s) => s.acknowledged,
    { result: "handled" },
  );
  counter("outlast_gateway_published_total", "Publishes sent to JetStream, resends included.", (s) => s.published);
  counter(
    "outlast_gateway_recoveries_total",
    "Client pipelines that re-read their mark after a failure.",
    (s) => s.recoveries,
  );
  counter("outlast_gateway_nats_errors_total", "NATS errors met, transient ones included.", (s) => s.natsErrors);
  readiness.set("stream", () =>
    gateway.stats().natsConnected
      ? { ok: true, detail: "NATS connected" }
      : { ok: false, detail: "the NATS connection is down: the stream is unreachable" },
  );
  return startHttpEndpoint(listen, {
    "/metrics": async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
    "/healthz": () => text(200, "ok\n"),
    "/readyz": async () => {
      const report = await readiness.report();
      const ready = report.ready && !draining();
      const lines = report.checks.map((c) => `${c.ok ? "ok" : "FAIL"} ${c.name}: ${c.detail}`);
      if (draining()) lines.push("FAIL draining: the gateway is draining (SIGTERM)");
      return text(ready ? 200 : 503, `${ready ? "ready" : "not ready"}\n${lines.join("\n")}\n`);
    },
  });
}
