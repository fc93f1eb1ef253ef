/**
 * The event loop's longest stall, and what it was made of. monitorEventLoopDelay gives the
 * longest delay (wall clock, 10 ms resolution); a 5 ms ticker beside it reads the main
 * thread's scheduler counters (/proc/thread-self/schedstat: ns on a CPU, ns runnable but
 * waiting for one) at every tick, so the longest gap between two ticks splits into:
 * - on CPU: the loop's own work (our code, Node's per-read cost, GC on the main thread);
 * - waiting for a core: runnable, but the kernel ran other processes (on this machine, the
 *   fleet's client processes share the server's two cores);
 * - the rest: neither (blocked, e.g. on GC helper threads, or idle before the tick was due).
 * Also the most CPU the loop spent between two ticks: the longest it kept a core without
 * getting back to its timers, whatever the other processes did.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { IntervalHistogram } from "node:perf_hooks";

const TICK_MS = 5;
const SCHEDSTAT = "/proc/thread-self/schedstat";

export interface StallReport {
  /** monitorEventLoopDelay's longest delay. */
  stallMs: number;
  /** The longest gap between two ticks (wall), and its on-CPU and waiting-for-a-core parts. */
  worstGapMs: number;
  worstGapCpuMs: number;
  worstGapWaitMs: number;
  /** The most CPU spent between two ticks. */
  maxCpuMs: number;
}

/** [ns on CPU, ns waiting for a CPU] of the calling thread, or undefined where /proc has no schedstat. */
function schedstat(): [number, number] | undefined {
  try {
    const [cpu, wait] = readFileSync(SCHEDSTAT, "utf8").split(" ");
    return [Number(cpu), Number(wait)];
  } catch {
    return undefined;
  }
}

export class StallWatch {
  #histogram: IntervalHistogram | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #report: StallReport = { stallMs: 0, worstGapMs: 0, worstGapCpuMs: 0, worstGapWaitMs: 0, maxCpuMs: 0 };
  #lastMs = 0;
  #last: [number, number] | undefined;

  start(): void {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    this.#report = { stallMs: 0, worstGapMs: 0, worstGapCpuMs: 0, worstGapWaitMs: 0, maxCpuMs: 0 };
    this.#lastMs = performance.now();
    this.#last = schedstat();
    this.#ticker = setInterval(() => this.#tick(), TICK_MS);
  }

  stop(): StallReport {
    this.#tick();
    clearInterval(this.#ticker);
    this.#histogram?.disable();
    this.#report.stallMs = (this.#histogram?.max ?? 0) / 1e6;
    return this.#report;
  }

  #tick(): void {
    const now = performance.now();
    const stat = schedstat();
    const r = this.#report;
    if (stat !== undefined && this.#last !== undefined) {
      const cpuMs = (stat[0] - this.#last[0]) / 1e6;
      const waitMs = (stat[1] - this.#last[1]) / 1e6;
      if (now - this.#lastMs > r.worstGapMs) {
        r.worstGapMs = now - this.#lastMs;
        r.worstGapCpuMs = cpuMs;
        r.worstGapWaitMs = waitMs;
      }
      r.maxCpuMs = Math.max(r.maxCpuMs, cpuMs);
    }
    this.#lastMs = now;
    this.#last = stat;
  }
}
