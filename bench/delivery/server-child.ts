/**
 * Child process entry: runs one Node server of the delivery benchmark.
 * Usage (by node-server-process.ts): node server-child.js <plain-tcp|outlast>
 * Reports { type: "listening", port } over IPC; SIGTERM closes the server and exits
 * (through process.exit, so --cpu-prof writes its profile).
 */

import type { ServerChildMessage } from "./node-server-process.js";

interface Served {
  readonly port: number;
  close(): Promise<void>;
}

async function serve(name: string | undefined): Promise<Served> {
  switch (name) {
    case "plain-tcp":
      return (await import("./plain-tcp.js")).servePlainTcp();
    case "outlast":
      return (await import("./outlast.js")).serveOutlast();
    default:
      throw new Error(`server-child: unknown server ${String(name)}`);
  }
}

function report(msg: ServerChildMessage): void {
  process.send?.(msg);
}

try {
  const served = await serve(process.argv[2]);
  process.once("SIGTERM", () => {
    const hardStop = setTimeout(() => process.exit(1), 5000);
    served.close().then(
      () => {
        clearTimeout(hardStop);
        process.exit(0);
      },
      () => process.exit(1),
    );
  });
  // Exit when the orchestrator goes away (its IPC channel closes), so no server outlives a crashed run.
  process.on("disconnect", () => process.exit(0));
  report({ type: "listening", port: served.port });
} catch (err) {
  report({ type: "failed", error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
  process.disconnect?.();
}
