/** `outlast demo --gateways`: options -> runGatewayDemo -> report (loaded only with --gateways). */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT_FAILURE, EXIT_OK, type CommandIo } from "../command.js";
import { formatGatewayReport, gatewayDemoUnavailable, runGatewayDemo } from "./gateway-demo.js";

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
  try {
    const report = await runGatewayDemo(
      {
        dir,
        messages: o.config.messages,
        sendMs: o.config.sendMs,
        drainTimeoutMs: Math.max(o.config.drainTimeoutMs, 60_000),
        messageBytes: o.config.messageBytes,
      },
      (line) => io.err(`outlast demo: ${line}\n`),
    );
    io.out(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatGatewayReport(report));
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  } finally {
    if (o.keep) io.err(`outlast demo: kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}
