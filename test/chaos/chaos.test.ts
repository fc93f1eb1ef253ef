/**
 * The chaos suite at CI size: client processes -> fault proxy -> server process,
 * faults from a seeded plan (every proxy fault, server SIGKILL + restart on its
 * state directory; client SIGKILL + restart where the outbox is durable), then
 * the checker: every message reported stored reaches the handler exactly once,
 * in order. The seed is printed; OUTLAST_CHAOS_SEED=<n> replays it.
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { chaosSeed, CI_RUNS } from "./sizes.js";
import { startProxyProcess } from "./proxy-process.js";
import { formatReport } from "./report.js";
import { runChaos } from "./run-chaos.js";

const seed = chaosSeed();

describe("chaos (CI size)", () => {
  for (const size of CI_RUNS) {
    it(
      `${size.name}: ${size.messages} messages, ${size.faults} faults, nothing lost, duplicated or reordered`,
      { timeout: 240_000 },
      async (t) => {
        const skip = size.unavailable?.();
        if (skip !== undefined) {
          t.skip(skip);
          return;
        }
        const verbose = process.env["OUTLAST_CHAOS_VERBOSE"] === "1";
        const report = await runChaos({ ...size, seed, ...(verbose ? { log: (l: string) => t.diagnostic(l) } : {}) });
        const text = formatReport(report, `OUTLAST_CHAOS_SEED=${seed} node --test <build>/test/chaos/chaos.test.js`);
        for (const line of text.split("\n")) t.diagnostic(line);
        assert.deepEqual(report.failures, [], text);
        assert.equal(report.lost, 0, text);
        assert.equal(report.duplicated, 0, text);
        assert.equal(report.reordered, 0, text);
        assert.equal(report.gaps, 0, text);
        assert.equal(report.corrupt, 0, text);
        assert.equal(report.sendErrors, 0, text);
        assert.equal(report.messagesDelivered, report.messagesPlanned, text);
        assert.ok(report.faultsTotal >= size.faults, text);
        assert.deepEqual(report.knownIssues, [], text); // a proxy that does not stop is a bug again
        assert.deepEqual(report.warnings, [], text); // the client met no non-connection error
        assert.ok(report.passed, text);
      },
    );
  }
});

describe("fault proxy regression found by the chaos suite", () => {
  // Found by seeds 205, 209 and 211 of a durable-outbox run: an RST on a socket the proxy had already
  // ended failed with "reset EINVAL" and the socket never emitted 'close'. Runs in a proxy child process,
  // killed by pid if it hangs, because stuck sockets would keep this test process alive.
  it("the proxy stops after a close fault and a reset fault hit the same connection", { timeout: 30_000 }, async () => {
    const server = createServer((s) => s.on("error", () => undefined)).listen(0, "127.0.0.1");
    await once(server, "listening");
    const proxy = await startProxyProcess({
      listen: "127.0.0.1:0",
      upstream: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      seed: 1,
    });
    try {
      await proxy.addFault({ kind: "close", direction: "both" });
      await proxy.addFault({ kind: "reset", direction: "both" });
      const client = connect(proxy.port, "127.0.0.1").on("error", () => undefined);
      await once(client, "close");
    } finally {
      const stopped = await proxy.stop(5000);
      server.close();
      assert.ok(stopped, "the proxy did not stop within 5 s of SIGTERM (killed)");
    }
  });
});
