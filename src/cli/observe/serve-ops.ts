/**
 * Everything `outlast serve` offers an operator besides the messages: the
 * connection log lines, and with --metrics the operations port (`/metrics`,
 * `/healthz`, `/readyz`, `/status.json` and the page at `/`). A gateway adds
 * its readiness check through `ops.readiness.set("stream", check)`.
 */

import { readFileSync } from "node:fs";
import type { Server } from "../../server/index.js";
import type { HostPort } from "../config.js";
import { connectionLog, type ConnectionLog } from "./connection-log.js";
import { startHttpEndpoint, text, type HttpEndpoint } from "./http-endpoint.js";
import type { Log } from "./log.js";
import type { Readiness } from "./readiness.js";
import { ServerObserver } from "./server-observer.js";
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

  private constructor(readonly log: Log) {
    this.#connections = connectionLog(log);
  }

  /** Starts the log watchers and, with `metrics`, the operations port (throws when it cannot listen). */
  static async start(log: Log, metrics: HostPort | undefined): Promise<ServeOps> {
    const ops = new ServeOps(log);
    if (metrics === undefined) return ops;
    try {
      const { serverMetrics } = await import("./server-metrics.js");
      const registry = await serverMetrics(ops.observer);
      const version = packageVersion();
      ops.#endpoint = await startHttpEndpoint(metrics, {
        "/metrics": async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
        "/healthz": () => text(200, "ok\n"),
        "/readyz": async () => {
          const report = await ops.readiness.report();
          const ready = report.ready && !ops.observer.draining;
          const lines = report.checks.map((c) => `${c.ok ? "ok" : "FAIL"} ${c.name}: ${c.detail}`);
          if (ops.observer.draining) lines.push("FAIL draining: the server is draining (SIGTERM)");
          return text(ready ? 200 : 503, `${ready ? "ready" : "not ready"}\n${lines.join("\n")}\n`);
        },
        "/status.json": async () => ({
          status: 200,
          contentType: "application/json",
          body: JSON.stringify(await statusJson(ops.observer, version)),
        }),
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
    server.on("clientError", (err, info) => {
      this.#connections.clientError(err, info);
      this.observer.clientError(err, info);
    });
  }

  async close(): Promise<void> {
    this.#connections.close();
    this.observer.close();
    await this.#endpoint?.close();
    this.log.flush();
  }
}
