/**
 * The chaos suite with REAL kernel faults: a client namespace and a server
 * namespace joined by a veth, created by the test; random loss, duplication,
 * corruption, delay, bandwidth, iptables DROP and REJECT, the link down and up
 * (tc netem where the kernel has it, else the fallbacks in kernel-faults.ts;
 * the test prints which ran). Then: every message reported stored reached the
 * handler exactly once, in order. OUTLAST_CHAOS_SEED=<n> replays a seed.
 * Needs root, iproute2, iptables and nftables; elsewhere it skips and says why.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { netnsAvailable } from "../helpers/netns.js";
import { runNetnsChaos } from "./netns-run.js";
import { formatReport } from "./report.js";
import { chaosSeed, NETNS_SIZE } from "./sizes.js";

const available = netnsAvailable();
const seed = chaosSeed();

describe("chaos with kernel faults (network namespaces)", () => {
  it(
    "loss, duplication, corruption, delay, bandwidth, DROP, REJECT, link down/up: nothing lost, duplicated or reordered",
    { timeout: 240_000 },
    async (t) => {
      if (!available.ok) {
        t.skip(available.reason);
        return;
      }
      const report = await runNetnsChaos({ seed, ...NETNS_SIZE, log: (l) => t.diagnostic(l) });
      const text = formatReport(
        report,
        `OUTLAST_CHAOS_SEED=${seed} node --test <build>/test/chaos/netns-chaos.test.js`,
      );
      for (const line of text.split("\n")) t.diagnostic(line);
      for (const [kind, m] of Object.entries(report.mechanisms)) {
        // Every kind the brief asks for ran here, or the test says why it could not.
        if (!m.available) t.diagnostic(`${kind} did not run: ${m.how}`);
        else if (kind !== "delay" || report.faultsByKind["delay"] !== undefined)
          assert.ok((report.faultsByKind[kind] ?? 0) > 0, `${kind} never ran\n${text}`);
      }
      assert.deepEqual(report.failures, [], text);
      assert.equal(report.lost, 0, text);
      assert.equal(report.duplicated, 0, text);
      assert.equal(report.reordered, 0, text);
      assert.equal(report.gaps, 0, text);
      assert.equal(report.corrupt, 0, text);
      assert.equal(report.messagesDelivered, report.messagesPlanned, text);
      assert.ok(report.passed, text);
    },
  );
});
