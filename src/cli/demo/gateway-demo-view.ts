/**
 * The live view of `outlast demo --gateways` (TTY), and its plain progress line
 * (not a TTY): the same shape as the plain demo's view (demo-view.ts), showing
 * the robot's link, which gateway it is on, which gateways and NATS nodes are up.
 */

import type { Paint } from "../live/ansi.js";
import { formatCount, formatDuration, formatTally, progressBar, RateMeter } from "../live/widgets.js";
import type { GatewayDemoSnapshot } from "./gateway-demo.js";

const LINK_COLOR: Readonly<Record<string, "green" | "yellow" | "red" | "dim">> = {
  open: "green",
  connecting: "yellow",
  waiting: "red",
  closing: "yellow",
  closed: "dim",
};

export class GatewayDemoView {
  readonly #rate = new RateMeter(2000);
  #lastRate = 0;
  #lastRateAt = -Infinity;

  constructor(readonly paint: Paint) {}

  #throughput(s: GatewayDemoSnapshot): number {
    // Sampled at most 4 times a second so the number does not flicker.
    if (s.elapsedMs - this.#lastRateAt >= 250) {
      this.#lastRate = this.#rate.update(s.elapsedMs, s.acknowledged);
      this.#lastRateAt = s.elapsedMs;
    }
    return this.#lastRate;
  }

  frame(s: GatewayDemoSnapshot): string[] {
    const p = this.paint;
    const fraction = s.total === 0 ? 1 : s.acknowledged / s.total;
    const link = p(LINK_COLOR[s.link] ?? "yellow", `● ${s.link}`);
    const on = s.server === undefined ? "" : p("dim", ` via ${s.server.replace(/^tcp:\/\//, "")}`);
    const up = (label: string, isUp: boolean): string => p(isUp ? "green" : "red", `${label} ${isUp ? "up" : "down"}`);
    return [
      `${p("bold", "outlast demo --gateways")} ${p("dim", `· robot -> 2 gateways -> R3 stream on 3 NATS nodes · ${s.phase}`)}`,
      `  ${p("cyan", progressBar(fraction, 32))} ${`${Math.floor(fraction * 100)}%`.padStart(4)}  ${formatCount(s.acknowledged)} / ${formatCount(s.total)} stored  ${p("dim", formatDuration(s.elapsedMs))}`,
      `  link      ${link}${on}   sent ${formatCount(s.sent)}   queue ${formatCount(s.queued)} (in flight ${formatCount(s.inFlight)})   ${formatCount(this.#throughput(s))} msg/s`,
      `  gateways  ${s.gateways.map((g) => up(`:${g.port}`, g.up)).join("  ")}`,
      `  nats      ${s.nodes.map((n) => up(n.name, n.up)).join("  ")}`,
      `  causes    ${formatTally(s.reconnects, p("dim", "no reconnect yet"))}`,
      `  last      ${s.lastEvent ?? p("dim", "nothing yet")}`,
    ];
  }

  line(s: GatewayDemoSnapshot): string {
    const fraction = s.total === 0 ? 1 : s.acknowledged / s.total;
    const down = [
      ...s.gateways.filter((g) => !g.up).map((g) => `gateway :${g.port}`),
      ...s.nodes.filter((n) => !n.up).map((n) => n.name),
    ];
    return (
      `outlast demo: ${formatCount(s.acknowledged)}/${formatCount(s.total)} stored (${Math.floor(fraction * 100)}%), ` +
      `sent ${formatCount(s.sent)}, link ${s.link}${s.server === undefined ? "" : ` via ${s.server.replace(/^tcp:\/\//, "")}`}, ` +
      `queue ${formatCount(s.queued)}, ${down.length === 0 ? "all up" : `down: ${down.join(", ")}`}`
    );
  }
}
