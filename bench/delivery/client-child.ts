/**
 * Child process entry: one contender's client for one case. Its own CPU time
 * and peak RSS are the measurement, so nothing else runs here (the server is
 * another process). Driven over IPC by delivery.ts, one run at a time, so the
 * orchestrator can interleave the contenders' runs (noise from the machine
 * then spreads over all of them):
 *   -> { type: "job", contender, port, benchCase }   <- { type: "ready" }
 *   -> { type: "run", index }  (-1 = warm-up)          <- { type: "run", result }
 *   -> { type: "end" }                                  <- { type: "end", peakRssBytes, baselineRssBytes }, exit
 * Any failure: <- { type: "failed", error }, exit.
 */

import type { ContenderName } from "./contender.js";
import { loadContender } from "./contender.js";
import type { BenchCase, RunResult } from "./measure.js";
import { CaseRunner, peakRssBytes } from "./measure.js";

export type ToClientChild =
  | { readonly type: "job"; readonly contender: ContenderName; readonly port: number; readonly benchCase: BenchCase }
  | { readonly type: "run"; readonly index: number }
  | { readonly type: "end" };

export type FromClientChild =
  | { readonly type: "ready" }
  | { readonly type: "run"; readonly result: RunResult }
  | { readonly type: "end"; readonly peakRssBytes: number; readonly baselineRssBytes: number }
  | { readonly type: "failed"; readonly error: string };

function send(msg: FromClientChild): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(msg, () => resolve());
  });
}

/** process.exit (not a natural end): a contender's leftover timer must not keep the child alive; --cpu-prof writes its profile on exit. */
async function finish(msg: FromClientChild): Promise<never> {
  await send(msg);
  process.exit(0);
}

let runner: CaseRunner | undefined;

async function handle(msg: ToClientChild): Promise<void> {
  switch (msg.type) {
    case "job": {
      const contender = await loadContender(msg.contender);
      runner = new CaseRunner(msg.benchCase, (clientId) => contender.openClient(msg.port, clientId));
      await send({ type: "ready" });
      return;
    }
    case "run": {
      if (runner === undefined) throw new Error("client-child: run before job");
      await send({ type: "run", result: await runner.run(msg.index) });
      return;
    }
    case "end":
      await finish({ type: "end", peakRssBytes: peakRssBytes(), baselineRssBytes: runner?.baselineRssBytes ?? 0 });
      return;
    default: {
      const never: never = msg;
      throw new Error(`client-child: unknown message ${JSON.stringify(never)}`);
    }
  }
}

// Messages are handled one at a time, in order.
let queue = Promise.resolve();
process.on("message", (msg: ToClientChild) => {
  queue = queue
    .then(() => handle(msg))
    .catch((err: unknown) =>
      finish({
        type: "failed",
        error: err instanceof Error ? (err.stack ?? err.message) : `non-Error thrown: ${String(err)}`,
      }),
    );
});
process.on("disconnect", () => process.exit(0));
