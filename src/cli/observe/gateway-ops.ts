/**
 * `outlast serve --forward ...`: what a gateway adds to the operations port and
 * the log of a plain serve (serve-ops.ts). Its stats in the server's terms (so
 * `outlast_connections`, `outlast_messages_total{result="handled"}` and the
 * status page read the same), the "stream" readiness check (the NATS
 * connection is up, so the stream is reachable), the NATS metrics, and its
 * client errors to the connection log. The handler and ack-latency histograms
 * come from the server's channels, which fire when the gateway runs its
 * messages through the server's registry.
 */

import type { Gateway } from "../../gateway/index.js";
import type { ServeOps } from "./serve-ops.js";
import type { ObservedStats } from "./server-observer.js";

type GatewayStats = ReturnType<Gateway["stats"]>;

/** A gateway's stats in the server's terms: what it acknowledged was handled (stored in the stream). */
export function gatewayObservedStats(s: GatewayStats): ObservedStats {
  return {
    connections: s.connections,
    clients: s.clients,
    messagesProcessed: s.acknowledged,
    deadLettered: 0,
    duplicatesSkipped: 0,
    handlerFailures: 0,
    authRejected: s.authRejected,
    protocolErrors: s.protocolErrors,
    busyRejected: s.busyRejected,
    connectionsAccepted: s.connectionsAccepted,
  };
}

export async function watchGateway(ops: ServeOps, gateway: Gateway): Promise<void> {
  ops.observer.server = { stats: () => gatewayObservedStats(gateway.stats()) };
  gateway.on("clientError", (err, info) => ops.clientError(err, info));
  ops.readiness.set("stream", () =>
    gateway.stats().natsConnected
      ? { ok: true, detail: "NATS connected" }
      : { ok: false, detail: "the NATS connection is down: the stream is unreachable" },
  );
  await ops.addMetrics((prom, registry) => {
    const registers = [registry];
    new prom.Gauge({
      name: "outlast_gateway_nats_connected",
      help: "1 while the NATS connection is up (the stream is reachable).",
      registers,
      collect() {
        this.set(gateway.stats().natsConnected ? 1 : 0);
      },
    });
    const counter = (name: string, help: string, read: (s: GatewayStats) => number): void => {
      new prom.Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read(gateway.stats()));
        },
      });
    };
    counter("outlast_gateway_published_total", "Publishes sent to JetStream, resends included.", (s) => s.published);
    counter(
      "outlast_gateway_recoveries_total",
      "Client pipelines that re-read their mark after a failure.",
      (s) => s.recoveries,
    );
    counter("outlast_gateway_nats_errors_total", "NATS errors met, transient ones included.", (s) => s.natsErrors);
  });
}
