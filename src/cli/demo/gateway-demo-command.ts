/** `outlast demo --gateways`: options -> runGatewayDemo -> report (loaded only with --gateways). */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT_FAILURE, EXIT_OK, type CommandIo } from "../command.js";
import { colorsWanted, painter } from "../live/ansi.js";
import { LiveRegion } from "../live/live-region.js";
import {
  formatGatewayReport,
  gatewayDemoUnavailable,
  runGatewayDemo,
  type GatewayDemoSnapshot,
} from "./gateway-demo.js";
import { GatewayDemoView } from "./gateway-demo-view.js";

export interface GatewaysDemoOptions {
  readonly config: {
    readonly messages: number;
    readonly sendMs: number;
    readonly drainTimeoutMs: number;
    readonly messageBytes: number;
  };
  readonly json: boolean;
  readonly keep: boolean;
}

export async function runGatewaysDemo(o: GatewaysDemoOptions, io: CommandIo): Promise<number> {
  const unavailable = gatewayDemoUnavailable();
  if (unavailable !== undefined) {
    io.err(`outlast demo: ${unavailable}\n`);
    return EXIT_FAILURE;
  }
  const dir = await mkdtemp(join(tmpdir(), "outlast-demo-gateways-"));
  // The live view, as in the plain demo: drawn in place on a terminal, a progress line a second otherwise.
  const paint = painter(colorsWanted(process.stderr.isTTY === true));
  const view = new GatewayDemoView(paint);
  let snapshot: (() => GatewayDemoSnapshot) | undefined;
  const live = new LiveRegion(process.stderr, {
    frame: () => (snapshot === undefined ? [] : view.frame(snapshot())),
    line: () => (snapshot === undefined ? undefined : view.line(snapshot())),
  });
  try {
    const report = await runGatewayDemo(
      {
        dir,
        messages: o.config.messages,
        sendMs: o.config.sendMs,
        drainTimeoutMs: Math.max(o.config.drainTimeoutMs, 60_000),
        messageBytes: o.config.messageBytes,
      },
      {
        event: (line) => live.log(`outlast demo: ${line}`),
        snapshot: (read) => {
          snapshot = read;
          live.start();
        },
      },
    );
    live.stop();
    io.out(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatGatewayReport(report));
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  } finally {
    live.stop();
    if (o.keep) io.err(`outlast demo: kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}
