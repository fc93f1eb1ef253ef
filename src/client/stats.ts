/** Counters and the ack-latency sample behind client.stats(). */

import type { DropReason } from "../outbox/outbox.js";

export interface ClientStats {
  /** Messages stored (or being stored) and not yet acknowledged nor dropped. */
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Age of the oldest queued message (ms); 0 when none. */
  readonly oldestQueuedAgeMs: number;
  /** send() calls waiting for room (whenFull "wait"). */
  readonly waitingSends: number;
  readonly inFlightMessages: number;
  readonly inFlightBytes: number;
  /** Message frames written, resends included. */
  readonly sent: number;
  /** Message frames written again after a reconnect. */
  readonly resends: number;
  /** Messages found in the outbox when it opened (stored by an earlier run); delivered first. */
  readonly recovered: number;
  /** Messages acknowledged by the server. */
  readonly acknowledged: number;
  /** Resends the server skipped as duplicates (ACK.duplicates) plus records already covered by WELCOME.lastSeq. */
  readonly duplicatesSkipped: number;
  readonly drops: Readonly<Record<DropReason, number>>;
  /** Connection losses, by Classification kind ("goodbye" when the server said GOODBYE, "closed" when it just closed). */
  readonly reconnects: Readonly<Record<string, number>>;
  /** Write-to-ack latency over the last 1024 acknowledged messages (ms); 0 when none yet. */
  readonly ackLatencyP50Ms: number;
  readonly ackLatencyP99Ms: number;
}

/** Latencies kept for the percentiles: the last SAMPLES acknowledged messages (4 KiB once full). */
const SAMPLES = 1024;
/** The sample starts this small and doubles up to SAMPLES, so a new or quiet client holds little. */
const INITIAL_SAMPLES = 64;

export class StatsCounters {
  sent = 0;
  resends = 0;
  recovered = 0;
  acknowledged = 0;
  duplicatesSkipped = 0;
  readonly drops: Record<DropReason, number> = { full: 0, expired: 0, tooLarge: 0 };
  readonly reconnects: Record<string, number> = {};
  /** Float32: ms to ~7 significant digits, half the memory of Float64. */
  #latency: Float32Array | undefined;
  #latencyCount = 0;

  recordLatency(ms: number): void {
    let sample = this.#latency;
    const n = this.#latencyCount;
    if (sample === undefined || (n === sample.length && n < SAMPLES)) {
      const grown = new Float32Array(sample === undefined ? INITIAL_SAMPLES : Math.min(SAMPLES, n * 2));
      if (sample !== undefined) grown.set(sample);
      this.#latency = sample = grown;
    }
    sample[n & (SAMPLES - 1)] = ms;
    this.#latencyCount = n + 1;
  }

  countReconnect(kind: string): void {
    this.reconnects[kind] = (this.reconnects[kind] ?? 0) + 1;
  }

  /** [p50, p99] of the latency sample. */
  percentiles(): [number, number] {
    const n = Math.min(this.#latencyCount, SAMPLES);
    if (n === 0 || this.#latency === undefined) return [0, 0];
    const sorted = this.#latency.slice(0, n).sort();
    const at = (p: number): number => sorted[Math.min(n - 1, Math.ceil(p * n) - 1)] as number;
    return [at(0.5), at(0.99)];
  }
}
