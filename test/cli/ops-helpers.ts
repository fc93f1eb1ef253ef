/**
 * Helpers for the operations-port tests: start `outlast serve` with --metrics on
 * free ports, scrape /metrics into a map, fetch an endpoint.
 */
import type { TestContext } from "node:test";
import { start, type Child } from "./cli-process.js";

export interface ServeWithMetrics {
  readonly serve: Child;
  readonly port: number;
  readonly metricsUrl: string;
}

/** `outlast serve --listen 127.0.0.1:0 --metrics 127.0.0.1:0 ...args`, once both ports are known. */
export async function startServeWithMetrics(
  t: TestContext,
  args: readonly string[] = [],
  envExtra: Record<string, string> = {},
): Promise<ServeWithMetrics> {
  const serve = start(t, ["serve", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    envExtra,
  });
  const m = await serve.stderrLine(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/);
  const l = await serve.stderrLine(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/);
  return { serve, port: Number(l[1]), metricsUrl: m[1] as string };
}

export async function get(url: string): Promise<{ status: number; body: string; contentType: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), contentType: r.headers.get("content-type") ?? "" };
}

/** Prometheus text -> `name{labels}` -> value (comments skipped). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export async function scrape(metricsUrl: string): Promise<Map<string, number>> {
  const r = await get(`${metricsUrl}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.body}`);
  return parseMetrics(r.body);
}

/**
 * Scrapes until `check` holds (the server counts a socket until its 'close' event, a moment
 * after the peer saw it close); rejects with the last scrape after `timeoutMs`.
 */
export async function scrapeUntil(
  metricsUrl: string,
  what: string,
  check: (m: Map<string, number>) => boolean,
  timeoutMs = 10_000,
): Promise<Map<string, number>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const m = await scrape(metricsUrl);
    if (check(m)) return m;
    if (performance.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last scrape:\n${[...m].map(([k, v]) => `${k} ${v}`).join("\n")}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
