/**
 * Everything `outlast serve` offers an operator besides the messages: the
 * connection log lines, and with --metrics the operations port (`/metrics`,
 * `/healthz`, `/readyz`, `/status.json` and the page at `/`). The same for a
 * plain server and a gateway (serve --forward): gateway-ops.ts adds the
 * gateway's readiness check ("stream") and metrics through `readiness` and `addMetrics`.
 */

import { readFileSync } from "node:fs";
import type * as PromClientModule from "prom-client";
import type { Registry } from "prom-client";

type PromClient = typeof PromClientModule;
import type { Server } from "../../server/index.js";
import type { HostPort } from "../config.js";
import { connectionLog, type ConnectionLog } from "./connection-log.js";
import { startHttpEndpoint, text, type HttpEndpoint } from "./http-endpoint.js";
import type { Log } from "./log.js";
import type { Readiness } from "./readiness.js";
import { ServerObserver, type ProblemPeer } from "./server-observer.js";
import { STATUS_PAGE, statusJson } from "./status-page.js";

export function packageVersion(): string {
  try {
    // dist/src/cli/observe/serve-ops.js -> package.json at the package root
    const pkg = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

export class ServeOps {
  readonly observer = new ServerObserver();
  readonly #connections: ConnectionLog;
  #endpoint: HttpEndpoint | undefined;
  #registry: Registry | undefined;
  /** Runs before /metrics and /status.json read the stats (serve --workers fetches the pool's summed stats). */
  beforeScrape: () => Promise<void> = async () => {};

  private constructor(readonly log: Log) {
    this.#connections = connectionLog(log);
  }

  /** Starts the log watchers and, with `metrics`, the operations port (throws when it cannot listen). */
  /**
   * `handlerMetrics: false` (serve --workers: the handler runs in other processes) leaves out what is
   * measured in this process only: the handler, ack latency and state commit histograms, and the oldest
   * unacknowledged message.
   */
  static async start(
    log: Log,
    metrics: HostPort | undefined,
    { handlerMetrics = true }: { handlerMetrics?: boolean } = {},
  ): Promise<ServeOps> {
    const ops = new ServeOps(log);
    if (metrics === undefined) return ops;
    try {
      const { serverMetrics } = await import("./server-metrics.js");
      const registry = await serverMetrics(ops.observer, { handlerMetrics });
      ops.#registry = registry;
      const version = packageVersion();
      ops.#endpoint = await startHttpEndpoint(metrics, {
        "/metrics": async () => {
          await ops.beforeScrape();
          return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
        },
        "/healthz": () => text(200, "ok\n"),
        "/readyz": async () => {
          const report = await ops.readiness.report();
          const ready = report.ready && !ops.observer.draining;
          const lines = report.checks.map((c) => `${c.ok ? "ok" : "FAIL"} ${c.name}: ${c.detail}`);
          if (ops.observer.draining) lines.push("FAIL draining: the server is draining (SIGTERM)");
          return text(ready ? 200 : 503, `${ready ? "ready" : "not ready"}\n${lines.join("\n")}\n`);
        },
        "/status.json": async () => {
          await ops.beforeScrape();
          return {
            status: 200,
            contentType: "application/json",
            body: JSON.stringify(await statusJson(ops.observer, version)),
          };
        },
        "/": () => ({ status: 200, contentType: "text/html; charset=utf-8", body: STATUS_PAGE }),
      });
    } catch (err) {
      await ops.close();
      throw err;
    }
    return ops;
  }

  get readiness(): Readiness {
    return this.observer.readiness;
  }

  /** The bound operations port, when --metrics was given. */
  get endpoint(): { host: string; port: number } | undefined {
    return this.#endpoint;
  }

  /** Watches `server` (the latest one created). */
  watch(server: Server): void {
    this.observer.server = server;
    server.on("clientError", (err, info) => this.clientError(err, info));
  }

  /** A connection's failure or rejection: one (rate-limited) log line, and the page's recent problems. */
  clientError(err: Error, info: ProblemPeer): void {
    this.#connections.clientError(err, info);
    this.observer.clientError(err, info);
  }

  /** With --metrics, registers more metrics (prom-client is passed in, loaded once); without, does nothing. */
  async addMetrics(add: (prom: PromClient, registry: Registry) => void): Promise<void> {
    if (this.#registry === undefined) return;
    add(await import("prom-client"), this.#registry);
  }

  async close(): Promise<void> {
    this.#connections.close();
    this.observer.close();
    await this.#endpoint?.close();
    this.log.flush();
  }
}
