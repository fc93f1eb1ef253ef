/** The demo's final report: as JSON (`--json`) and as text. */

import type { Paint } from "../live/ansi.js";
import { formatCount, formatDuration, formatTally } from "../live/widgets.js";
import { CRASHES_CERTAIN_FROM_MS, missingCrashes, planFaults, type DemoFaultKind } from "./fault-plan.js";
import type { DemoConfig, DemoResult } from "./scenario.js";

/** What a run without flags does (`outlast demo`). */
export const DEMO_DEFAULTS = {
  messages: 10_000,
  sendMs: 12_000,
  faultRate: 1.5,
  messageBytes: 100,
  drainTimeoutMs: 30_000,
} as const;

export interface DemoReport {
  /** True when nothing was lost and nothing was handed to the handler twice unflagged. */
  readonly ok: boolean;
  readonly seed: number;
  readonly messages: number;
  readonly messageBytes: number;
  readonly faultRate: number;
  /** How long the sends were spread over (--duration). */
  readonly durationMs: number;
  readonly drainTimeoutMs: number;
  /** The crashes this run had no room for (a send phase shorter than CRASHES_CERTAIN_FROM_MS may skip them). */
  readonly missingCrashes: readonly DemoFaultKind[];
  /** Messages stored in the client's durable outbox. */
  readonly sent: number;
  /** Distinct messages the server's handler saw. */
  readonly delivered: number;
  /** Sent messages the handler never saw (from its record, message by message). */
  readonly lost: number;
  readonly lostExamples: readonly number[];
  /** Repeated handler calls for a message NOT flagged `redelivery` (a bug if ever nonzero). */
  readonly duplicates: number;
  /** Repeated handler calls flagged `redelivery: true` (the server's documented crash window). */
  readonly redeliveriesFlagged: number;
  /** Resends the server had already processed, not handed to the handler again: skipped by (clientId, seq), or settled by its lastSeq at reconnect (their ACK was lost in a fault). */
  readonly duplicatesRemovedByServer: number;
  /** Of those, resent MESSAGE frames the server received and skipped (at most `resent`). */
  readonly serverSkippedFrames: number;
  /** Of those, unacknowledged messages the server's WELCOME lastSeq showed were processed: settled without a resend. */
  readonly settledAtReconnect: number;
  /** Messages the client sent again: frames written again after a reconnect, and what the restarted client found in its outbox. */
  readonly resent: number;
  /** Of `resent`: what the restarted client found in its durable outbox (stored, not acknowledged at the crash). */
  readonly recoveredFromOutbox: number;
  /** Moves of the client to `waiting`, by the classified cause (GOODBYE: the server ended the link cleanly). */
  readonly reconnects: Readonly<Record<string, number>>;
  /** Faults the demo injected, by kind. */
  readonly faults: Readonly<Record<string, number>>;
  /** How often each proxy fault acted on a connection. */
  readonly proxyFaultsApplied: Readonly<Record<string, number>>;
  /** False when the client did not finish within the drain timeout. */
  readonly drained: boolean;
  readonly elapsedMs: number;
  readonly throughputPerSecond: number;
  readonly ackLatencyP99Ms: number;
  readonly clientErrors: readonly string[];
}

export function buildReport(config: DemoConfig, r: DemoResult): DemoReport {
  const s = r.summary;
  return {
    ok: s.lost === 0 && s.duplicates === 0 && s.unknown === 0 && r.sent === config.messages,
    seed: config.seed,
    messages: config.messages,
    messageBytes: config.messageBytes,
    faultRate: config.faultRate,
    durationMs: config.sendMs,
    drainTimeoutMs: config.drainTimeoutMs,
    missingCrashes: missingCrashes(planFaults(config.seed, config.sendMs, config.faultRate), config.faultRate),
    sent: r.sent,
    delivered: s.delivered,
    lost: s.lost + (config.messages - r.sent),
    lostExamples: s.lostExamples,
    duplicates: s.duplicates + s.unknown,
    redeliveriesFlagged: s.redeliveries,
    duplicatesRemovedByServer: r.duplicatesRemoved,
    serverSkippedFrames: r.serverSkippedFrames,
    settledAtReconnect: Math.max(0, r.duplicatesRemoved - r.serverSkippedFrames),
    resent: r.resent,
    recoveredFromOutbox: r.recoveredFromOutbox,
    reconnects: r.reconnects,
    faults: r.faults,
    proxyFaultsApplied: r.proxyFaultsApplied,
    drained: r.drained,
    elapsedMs: Math.round(r.elapsedMs),
    throughputPerSecond: r.elapsedMs > 0 ? Math.round((s.delivered * 1000) / r.elapsedMs) : 0,
    ackLatencyP99Ms: Math.round(r.ackLatencyP99Ms),
    clientErrors: r.clientErrors,
  };
}

/** A duration as a flag value: 12000 -> "12s", 1500 -> "1500ms". */
function durationFlag(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The flags that replay `report`'s run: its seed and every setting that differs from the defaults. */
export function replayArgs(report: DemoReport): string[] {
  const args = ["--seed", String(report.seed)];
  if (report.messages !== DEMO_DEFAULTS.messages) args.push("--messages", String(report.messages));
  if (report.durationMs !== DEMO_DEFAULTS.sendMs) args.push("--duration", durationFlag(report.durationMs));
  if (report.faultRate !== DEMO_DEFAULTS.faultRate) args.push("--fault-rate", String(report.faultRate));
  if (report.messageBytes !== DEMO_DEFAULTS.messageBytes) args.push("--message-bytes", String(report.messageBytes));
  if (report.drainTimeoutMs !== DEMO_DEFAULTS.drainTimeoutMs)
    args.push("--drain-timeout", durationFlag(report.drainTimeoutMs));
  return args;
}

/** "server-crash" -> "server crash". */
export function faultLabel(kind: string): string {
  return kind.replace(/-/g, " ");
}

function labelled(tally: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(tally).map(([k, n]) => [faultLabel(k), n]));
}

export function formatReport(report: DemoReport, paint: Paint): string {
  const total = Object.values(report.faults).reduce((a, b) => a + b, 0);
  const row = (label: string, value: string, note = ""): string =>
    `  ${label.padEnd(30)}${value.padStart(8)}${note === "" ? "" : `  ${paint("dim", note)}`}`;
  const lines = [
    "",
    paint(
      "bold",
      `outlast demo: ${formatCount(report.messages)} messages through ${total} injected faults (seed ${report.seed})`,
    ),
    "",
    row("sent", formatCount(report.sent), "each stored in the client's durable outbox first"),
    row("delivered", formatCount(report.delivered), "checked one by one against the server's handler record"),
    row("lost", formatCount(report.lost)),
    row("duplicates", formatCount(report.duplicates), "handler saw a message twice, unflagged"),
    row(
      "redeliveries flagged",
      formatCount(report.redeliveriesFlagged),
      "redelivery: true after a server crash (docs/server.md)",
    ),
    row(
      "resent after reconnects",
      formatCount(report.resent),
      report.recoveredFromOutbox > 0
        ? `${formatCount(report.recoveredFromOutbox)} of them found by the restarted client in its outbox`
        : "unacknowledged when a link was lost",
    ),
    row(
      "duplicates removed by server",
      formatCount(report.duplicatesRemovedByServer),
      `already processed: ${formatCount(report.serverSkippedFrames)} resent and skipped, ${formatCount(report.settledAtReconnect)} settled by its lastSeq at reconnect (not resent)`,
    ),
    `  ${"reconnects by cause".padEnd(30)}${formatTally(report.reconnects, "none", ", ")}`,
    `  ${"faults injected".padEnd(30)}${formatTally(labelled(report.faults), "none", ", ")}`,
    `  ${"elapsed".padEnd(30)}${formatDuration(report.elapsedMs)}`,
    `  ${"throughput".padEnd(30)}${formatCount(report.throughputPerSecond)} msg/s  ${paint("dim", `(ack latency p99 ${formatDuration(report.ackLatencyP99Ms)})`)}`,
    "",
  ];
  if (report.ok) {
    const redelivered =
      report.redeliveriesFlagged > 0
        ? ` (${formatCount(report.redeliveriesFlagged)} handed to the handler again flagged redelivery: true, the crash window a handler deduplicates by (clientId, seq))`
        : "";
    lines.push(paint("green", `OK: every message arrived, none lost, none duplicated${redelivered}.`));
  } else {
    const why = [
      report.lost > 0 ? `${formatCount(report.lost)} lost (first: #${report.lostExamples.join(", #")})` : "",
      report.duplicates > 0 ? `${formatCount(report.duplicates)} duplicated` : "",
      report.drained ? "" : "the client did not drain in time",
    ].filter((s) => s !== "");
    lines.push(paint("red", `FAILED: ${why.join("; ")}. Please report it with the seed.`));
  }
  if (report.missingCrashes.length > 0) {
    const which = report.missingCrashes.map((k) => `no ${faultLabel(k)}`).join(" and ");
    lines.push(
      paint(
        "yellow",
        `Note: ${which} in this run: ${formatDuration(report.durationMs)} of sending left no room for ${report.missingCrashes.length === 1 ? "it" : "them"} after the other faults (a --duration of ${durationFlag(CRASHES_CERTAIN_FROM_MS)} or more always has both).`,
      ),
    );
  }
  lines.push(paint("dim", `Replay this run: outlast demo ${replayArgs(report).join(" ")}`), "");
  return lines.join("\n");
}
