/** What the live view shows during the demo (TTY), and the plain progress line (not a TTY). */

import type { Paint } from "../live/ansi.js";
import { formatCount, formatDuration, formatTally, progressBar, RateMeter } from "../live/widgets.js";
import { faultLabel } from "./report.js";
import type { DemoSnapshot } from "./scenario.js";
import type { FaultStep } from "./fault-plan.js";

const LINK_COLOR = { open: "green", connecting: "yellow", waiting: "red", closing: "yellow", closed: "dim" } as const;

export function describeFault(step: FaultStep): string {
  switch (step.kind) {
    case "reset":
      return "reset: RST on every connection";
    case "close":
      return "close: FIN on every connection";
    case "blackhole":
      return `blackhole for ${formatDuration(step.forMs)}: the link goes silent`;
    case "latency":
      return `latency ${step.latencyMs ?? 0}±${step.jitterMs ?? 0} ms for ${formatDuration(step.forMs)}`;
    case "refuse":
      return `refuse new connections for ${formatDuration(step.forMs)}`;
    case "hold":
      return `hold new connections unanswered for ${formatDuration(step.forMs)}`;
    case "server-crash":
      return `server crash (no drain), restart on its state directory after ${formatDuration(step.forMs)}`;
    case "server-restart":
      return `server restart (drain, GOODBYE), back after ${formatDuration(step.forMs)}`;
    case "client-crash":
      return "client crash, restart on its durable outbox";
    default: {
      const never: never = step.kind;
      return never;
    }
  }
}

export class DemoView {
  readonly #rate = new RateMeter(2000);
  #lastRate = 0;
  #lastRateAt = -Infinity;

  constructor(
    readonly seed: number,
    readonly paint: Paint,
  ) {}

  #throughput(s: DemoSnapshot): number {
    // Sampled at most 4 times a second so the number does not flicker.
    if (s.elapsedMs - this.#lastRateAt >= 250) {
      const windowed = this.#rate.update(s.elapsedMs, s.delivered);
      this.#lastRate = windowed > 0 || s.elapsedMs > 3000 ? windowed : (s.delivered * 1000) / Math.max(1, s.elapsedMs);
      this.#lastRateAt = s.elapsedMs;
    }
    return this.#lastRate;
  }

  frame(s: DemoSnapshot): string[] {
    const p = this.paint;
    const fraction = s.total === 0 ? 1 : s.delivered / s.total;
    const survived = labelled(s.faults);
    const link = p(LINK_COLOR[s.link], `● ${s.link}`);
    const now = s.current === undefined ? p("dim", "no fault") : p("yellow", describeFault(s.current));
    return [
      `${p("bold", "outlast demo")} ${p("dim", `· seed ${this.seed} · server + fault proxy + client with a durable outbox · ${s.phase}`)}`,
      `  ${p("cyan", progressBar(fraction, 32))} ${`${Math.floor(fraction * 100)}%`.padStart(4)}  ${formatCount(s.delivered)} / ${formatCount(s.total)} delivered  ${p("dim", formatDuration(s.elapsedMs))}`,
      `  link      ${link}   server ${s.server === "up" ? p("green", "up") : p("red", "down")}   now: ${now}`,
      `  rate      ${formatCount(this.#throughput(s))} msg/s   queue ${formatCount(s.queued)} (in flight ${formatCount(s.inFlight)})   dups removed ${formatCount(s.duplicatesRemoved)}`,
      `  survived  ${formatTally(survived, p("dim", "nothing yet"))}`,
      `  causes    ${formatTally(s.reconnects, p("dim", "no reconnect yet"))}`,
    ];
  }

  line(s: DemoSnapshot): string {
    const fraction = s.total === 0 ? 1 : s.delivered / s.total;
    const faults = Object.values(s.faults).reduce((a, b) => a + b, 0);
    return (
      `outlast demo: ${formatCount(s.delivered)}/${formatCount(s.total)} delivered (${Math.floor(fraction * 100)}%), ` +
      `link ${s.link}, ${formatCount(this.#throughput(s))} msg/s, queue ${formatCount(s.queued)}, ` +
      `${faults} faults survived${faults > 0 ? ` (${formatTally(labelled(s.faults), "", ", ")})` : ""}`
    );
  }
}

function labelled(tally: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(tally).map(([k, n]) => [faultLabel(k), n]));
}
