/**
 * `GET /` on the operations port: the server at a glance for people (connected
 * clients, acknowledged msg/s over the last five minutes, handler latency, the
 * clients with the oldest unacknowledged messages, recent rejections and
 * protocol errors). One self-contained page (inline CSS and script, no external
 * asset) that polls `/status.json` every two seconds.
 */

import type { ReadinessReport } from "./readiness.js";
import type { ServerObserver } from "./server-observer.js";

export interface StatusJson {
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly ready: boolean;
  readonly readiness: ReadinessReport["checks"];
  readonly draining: boolean;
  readonly connections: number;
  readonly clients: number;
  readonly totals: Readonly<Record<string, number>>;
  /** Acknowledged messages in each of the last seconds, oldest first. */
  readonly ackPerSecond: readonly number[];
  readonly handlerMs: { readonly p50: number; readonly p99: number };
  readonly oldestUnacknowledged: ReturnType<ServerObserver["oldestUnacknowledged"]>;
  readonly recentProblems: ReturnType<ServerObserver["recentProblems"]>;
}

export async function statusJson(observer: ServerObserver, version: string): Promise<StatusJson> {
  const s = observer.server?.stats();
  const readiness = await observer.readiness.report();
  const [p50, p99] = observer.handlerPercentilesMs();
  return {
    version,
    uptimeSeconds: Math.round(observer.uptimeMs / 1000),
    ready: readiness.ready && !observer.draining,
    readiness: readiness.checks,
    draining: observer.draining,
    connections: s?.connections ?? 0,
    clients: s?.clients ?? 0,
    totals: {
      handled: (s?.messagesProcessed ?? 0) - (s?.deadLettered ?? 0),
      duplicate: s?.duplicatesSkipped ?? 0,
      rejected: s?.handlerFailures ?? 0,
      deadLetter: s?.deadLettered ?? 0,
      authRejections: s?.authRejected ?? 0,
      protocolErrors: s?.protocolErrors ?? 0,
      busyRejections: s?.busyRejected ?? 0,
      connectionsAccepted: s?.connectionsAccepted ?? 0,
    },
    ackPerSecond: observer.ackRate(),
    handlerMs: { p50, p99 },
    oldestUnacknowledged: observer.oldestUnacknowledged(10),
    recentProblems: observer.recentProblems(),
  };
}

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>outlast serve</title>
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #6b7280; --bg: #f6f7f9; --card: #fff; --line: #2563eb; --bad: #b91c1c; --ok: #15803d; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e5e7eb; --muted: #9ca3af; --bg: #111318; --card: #1b1f27; --line: #60a5fa; --bad: #f87171; --ok: #4ade80; } }
  body { margin: 0; padding: 20px; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
  h1 { font-size: 18px; margin: 0 0 4px; } h2 { font-size: 14px; margin: 0 0 8px; color: var(--muted); font-weight: 600; }
  .sub { color: var(--muted); margin-bottom: 16px; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin-bottom: 12px; }
  .card { background: var(--card); border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  .big { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 12px; margin-top: 12px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid rgba(127,127,127,.2); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; }
  .ok { color: var(--ok); } .bad { color: var(--bad); } .muted { color: var(--muted); }
  svg { width: 100%; height: 160px; display: block; }
  code { font-size: 12px; }
</style>
</head>
<body>
<h1>outlast serve <span id="state" class="muted">…</span></h1>
<div class="sub" id="sub">loading /status.json</div>
<div class="tiles">
  <div class="card"><h2>connected clients</h2><div class="big" id="connections">–</div></div>
  <div class="card"><h2>acknowledged msg/s (10 s)</h2><div class="big" id="rate">–</div></div>
  <div class="card"><h2>handler p50 / p99</h2><div class="big" id="handler">–</div></div>
  <div class="card"><h2>messages handled</h2><div class="big" id="handled">–</div></div>
  <div class="card"><h2>rejected / protocol errors</h2><div class="big" id="problems">–</div></div>
</div>
<div class="card"><h2>acknowledged messages per second, last 5 minutes</h2><svg id="chart" viewBox="0 0 600 160" preserveAspectRatio="none" role="img" aria-label="acknowledged messages per second"></svg></div>
<div class="grid2">
  <div class="card"><h2>clients with the oldest unacknowledged messages</h2><table><thead><tr><th>clientId</th><th>seq</th><th>waiting</th><th>pending</th></tr></thead><tbody id="oldest"></tbody></table></div>
  <div class="card"><h2>recent rejections and protocol errors</h2><table><thead><tr><th>time</th><th>code</th><th>client</th><th>message</th></tr></thead><tbody id="recent"></tbody></table></div>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const num = (n) => n >= 1e6 ? (n / 1e6).toFixed(2) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n));
const ms = (v) => v < 1 ? v.toFixed(2) + " ms" : v < 1000 ? v.toFixed(1) + " ms" : (v / 1000).toFixed(1) + " s";
function chart(points) {
  const w = 600, h = 160, pad = 18, max = Math.max(1, ...points);
  const x = (i) => (i / Math.max(1, points.length - 1)) * w;
  const y = (v) => h - pad - (v / max) * (h - 2 * pad);
  const path = points.map((v, i) => (i ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
  $("chart").innerHTML =
    '<line x1="0" x2="600" y1="' + y(max) + '" y2="' + y(max) + '" stroke="currentColor" opacity=".15"/>' +
    '<line x1="0" x2="600" y1="' + y(0) + '" y2="' + y(0) + '" stroke="currentColor" opacity=".3"/>' +
    '<text x="4" y="' + (y(max) - 4) + '" font-size="11" fill="currentColor" opacity=".6">' + num(max) + '/s</text>' +
    '<text x="4" y="' + (h - 4) + '" font-size="11" fill="currentColor" opacity=".6">-5 min</text>' +
    '<text x="596" y="' + (h - 4) + '" font-size="11" text-anchor="end" fill="currentColor" opacity=".6">now</text>' +
    (points.length ? '<path d="' + path + ' L600 ' + y(0) + ' L0 ' + y(0) + ' Z" fill="var(--line)" opacity=".12"/><path d="' + path + '" fill="none" stroke="var(--line)" stroke-width="1.5"/>' : "");
}
function render(s) {
  $("state").className = s.draining ? "bad" : s.ready ? "ok" : "bad";
  $("state").textContent = s.draining ? "draining" : s.ready ? "ready" : "not ready";
  const notReady = s.readiness.filter((c) => !c.ok).map((c) => c.name + ": " + c.detail).join("; ");
  $("sub").textContent = "version " + s.version + " · up " + Math.floor(s.uptimeSeconds / 60) + " min · " + num(s.clients) + " clientIds known · updated " + new Date().toLocaleTimeString() + (notReady ? " · " + notReady : "");
  $("connections").textContent = num(s.connections);
  const last = s.ackPerSecond.slice(-10);
  $("rate").textContent = num(last.reduce((a, b) => a + b, 0) / Math.max(1, last.length));
  $("handler").textContent = ms(s.handlerMs.p50) + " / " + ms(s.handlerMs.p99);
  $("handled").textContent = num(s.totals.handled);
  $("problems").textContent = num(s.totals.authRejections + s.totals.busyRejections) + " / " + num(s.totals.protocolErrors);
  chart(s.ackPerSecond);
  $("oldest").innerHTML = s.oldestUnacknowledged.length === 0 ? '<tr><td colspan="4" class="muted">every message handed to the handler is acknowledged</td></tr>' :
    s.oldestUnacknowledged.map((o) => "<tr><td><code>" + esc(o.clientId) + "</code></td><td>" + o.seq + "</td><td>" + ms(o.ageMs) + "</td><td>" + o.pending + "</td></tr>").join("");
  $("recent").innerHTML = s.recentProblems.length === 0 ? '<tr><td colspan="4" class="muted">none since start</td></tr>' :
    s.recentProblems.map((p) => "<tr><td>" + new Date(p.timeMs).toLocaleTimeString() + "</td><td><code>" + esc(p.code) + "</code></td><td>" + esc(p.clientId ?? p.remote ?? "") + "</td><td>" + esc(p.message) + "</td></tr>").join("");
  document.body.dataset.loaded = "true";
}
async function tick() {
  try {
    const r = await fetch("status.json", { cache: "no-store" });
    render(await r.json());
  } catch (e) {
    $("state").className = "bad";
    $("state").textContent = "unreachable";
  }
  setTimeout(tick, 2000);
}
tick();
</script>
</body>
</html>
`;
