/**
 * `outlast demo` as a real child process: a small seeded run through faults
 * checked by the report (lost 0, faults injected, reconnects), the fault plan
 * replayed from its seed, plain progress lines off a terminal, usage errors.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { CRASHES_CERTAIN_FROM_MS, missingCrashes, planFaults } from "../../src/cli/demo/fault-plan.js";
import { DeliveryRecord, demoPayload } from "../../src/cli/demo/delivery-record.js";
import { ESCAPE, run } from "./cli-process.js";

test("demo --json: a seeded run through faults loses nothing, duplicates nothing, and reports real reconnects", async (t) => {
  const r = await run(
    t,
    ["demo", "--json", "--messages", "800", "--duration", "3s", "--seed", "11", "--fault-rate", "3"],
    "",
    {},
    60_000,
  );
  assert.equal(r.exit.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.ok, true);
  assert.equal(report.seed, 11);
  assert.equal(report.sent, 800);
  assert.equal(report.delivered, 800);
  assert.equal(report.lost, 0);
  assert.equal(report.duplicates, 0);
  const faults = Object.values(report.faults as Record<string, number>).reduce((a, b) => a + b, 0);
  assert.ok(faults >= 3, `faults injected: ${JSON.stringify(report.faults)}`);
  assert.equal(report.faults["server-crash"], 1);
  assert.equal(report.faults["client-crash"], 1);
  assert.deepEqual(report.missingCrashes, []);
  // The lines agree: what the server skipped was resent (by the restarted client from its outbox too); the rest of
  // the duplicates removed were settled at reconnect without a resend.
  assert.ok(
    report.resent >= report.serverSkippedFrames,
    `resent ${report.resent} < skipped by server ${report.serverSkippedFrames}`,
  );
  assert.equal(report.serverSkippedFrames + report.settledAtReconnect, report.duplicatesRemovedByServer);
  assert.ok(report.recoveredFromOutbox <= report.resent);
  const reconnects = Object.values(report.reconnects as Record<string, number>).reduce((a, b) => a + b, 0);
  assert.ok(reconnects >= 2, `reconnects: ${JSON.stringify(report.reconnects)}`);
  // Causes are classified codes, not made-up labels.
  for (const cause of Object.keys(report.reconnects)) assert.match(cause, /^(E[A-Z]+|OUTLAST_[A-Z_]+|GOODBYE|CLOSED)$/);
  // Sends are spread over the scenario (the last is due at ~3 s) so faults land mid-stream; the drain may end within ms of it.
  assert.ok(
    report.elapsedMs > 2_500,
    `elapsed ${String(report.elapsedMs)} ms: the sends were not spread over the scenario`,
  );
  // Off a terminal: plain progress lines on stderr, no escape codes, at most about one a second (+ one per fault).
  assert.doesNotMatch(r.stderr, ESCAPE);
  assert.match(r.stderr, /^outlast demo: 800 messages over 3\.0 s through \d+ planned faults \(seed 11\)$/m);
  assert.match(r.stderr, /^outlast demo: fault at \d+\.\d s: /m);
});

test("demo without faults: every message arrives and nothing reconnects; the text report says OK", async (t) => {
  const r = await run(
    t,
    ["demo", "--messages", "300", "--duration", "500ms", "--fault-rate", "0", "--seed", "1"],
    "",
    {},
    30_000,
  );
  assert.equal(r.exit.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}delivered +300 /m);
  assert.match(r.stdout, /^ {2}lost +0$/m);
  assert.match(r.stdout, /^ {2}reconnects by cause +none$/m);
  assert.match(r.stdout, /^OK: every message arrived, none lost, none duplicated\.$/m);
  assert.doesNotMatch(r.stdout, ESCAPE);
  // The README's sample report has the rows the demo really prints, in the same order.
  const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");
  const sample = /```\n(outlast demo: [^]*?)```/.exec(readme)?.[1] ?? "";
  const labels = (text: string): string[] =>
    text
      .split("\n")
      .filter((l) => /^ {2}\S/.test(l))
      .map((l) => l.slice(2, 32).trim());
  assert.deepEqual(labels(sample), labels(r.stdout));
  assert.match(sample, /^Replay this run: outlast demo --seed \d+$/m);
});

test("the fault plan is a function of the seed and, from CRASHES_CERTAIN_FROM_MS on, always holds one server crash and one client crash", () => {
  const a = planFaults(42, 12_000, 1.5);
  assert.deepEqual(planFaults(42, 12_000, 1.5), a);
  assert.notDeepEqual(planFaults(43, 12_000, 1.5), a);
  for (const seed of [1, 2, 3, 4, 5, 99, 1234]) {
    const plan = planFaults(seed, 12_000, 1.5);
    assert.equal(plan.filter((s) => s.kind === "server-crash").length, 1, `seed ${seed}`);
    assert.equal(plan.filter((s) => s.kind === "client-crash").length, 1, `seed ${seed}`);
    for (let i = 1; i < plan.length; i++) {
      const prev = plan[i - 1];
      const cur = plan[i];
      assert.ok(
        prev !== undefined && cur !== undefined && cur.atMs >= prev.atMs + prev.forMs,
        `seed ${seed}: faults never overlap`,
      );
    }
    assert.ok(plan.every((s) => s.atMs + s.forMs <= 12_000));
  }
  assert.deepEqual(planFaults(42, 12_000, 0), []);
  // From CRASHES_CERTAIN_FROM_MS on, at any rate, every seed has both crashes; below it, missingCrashes names what a plan lacks.
  let short = 0;
  for (const rate of [0.5, 1.5, 3, 10, 50]) {
    for (let seed = 0; seed < 200; seed++) {
      assert.deepEqual(
        missingCrashes(planFaults(seed, CRASHES_CERTAIN_FROM_MS, rate), rate),
        [],
        `seed ${seed} rate ${rate}`,
      );
      const plan = planFaults(seed, 3000, rate);
      const missing = missingCrashes(plan, rate);
      short += missing.length;
      for (const kind of missing) assert.ok(!plan.some((s) => s.kind === kind));
    }
  }
  assert.ok(short > 0, "a 3 s plan sometimes has no room for a crash");
  assert.deepEqual(missingCrashes([], 0), [], "no faults asked for: no crash is missing");
});

test("demo's text report: a replay line that reproduces the run's fault plan, and a note when a short run has no room for a crash", async (t) => {
  const args = [
    "--messages",
    "300",
    "--duration",
    "1500ms",
    "--fault-rate",
    "2",
    "--message-bytes",
    "64",
    "--seed",
    "7",
  ];
  const r = await run(t, ["demo", ...args], "", {}, 60_000);
  assert.equal(r.exit.code, 0, r.stderr);
  // The first line off a terminal counts with separators.
  assert.match(r.stderr, /^outlast demo: 300 messages over 1\.5 s through \d+ planned faults? \(seed 7\)$/m);
  const replay = /^Replay this run: outlast demo (.+)$/m.exec(r.stdout)?.[1]?.split(" ") ?? [];
  const flag = (name: string): string | undefined => replay[replay.indexOf(name) + 1];
  assert.equal(flag("--seed"), "7");
  assert.equal(flag("--messages"), "300");
  assert.equal(flag("--duration"), "1500ms");
  assert.equal(flag("--fault-rate"), "2");
  assert.equal(flag("--message-bytes"), "64");
  // The same fault plan: what the replay's flags give is what this run had.
  assert.deepEqual(planFaults(Number(flag("--seed")), 1500, Number(flag("--fault-rate"))), planFaults(7, 1500, 2));
  const missing = missingCrashes(planFaults(7, 1500, 2), 2);
  assert.ok(missing.length > 0, "seed 7 at 1.5 s has no room for a crash: pick another seed if the plan changes");
  assert.match(
    r.stdout,
    new RegExp(
      `^Note: ${missing.map((k) => `no ${k.replace("-", " ")}`).join(" and ")} in this run: 1\\.5 s of sending left no room`,
      "m",
    ),
  );
});

test("the delivery record counts lost, duplicated and flagged redeliveries from what the handler saw", () => {
  const record = new DeliveryRecord(5);
  for (const i of [0, 1, 1, 3]) record.record(demoPayload(i, 64), false);
  record.record(demoPayload(3, 64), true);
  record.record(Buffer.from("not a demo message"), false);
  assert.deepEqual(record.summary(5), {
    delivered: 3,
    lost: 2,
    lostExamples: [2, 4],
    duplicates: 1,
    redeliveries: 1,
    unknown: 1,
  });
});

test("demo: usage errors exit 2 in one line; --help has examples", async (t) => {
  for (const [args, re] of [
    [["demo", "--messages", "0"], /--messages must be a whole number from 1/],
    [["demo", "--fault-rate=-1"], /--fault-rate must be a number of faults per second/],
    [["demo", "--duration", "fast"], /--duration must be a positive duration/],
    [["demo", "--bogus"], /^outlast demo: unknown option --bogus$/],
    [["demo", "--messages", "-5"], /^outlast demo: --messages must be a whole number from 1 to 10000000, not "-5"$/],
  ] as const) {
    const r = await run(t, args);
    assert.equal(r.exit.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const [first, ...rest] = r.stderr.trimEnd().split("\n");
    assert.match(first ?? "", re);
    assert.match(rest.join("\n"), /^Usage: outlast demo [^]*\nRun `outlast demo --help` for every option\.$/);
  }
  const env = await run(t, ["demo"], "", { OUTLAST_MESSAGES: "lots" });
  assert.equal(env.exit.code, 2);
  assert.match(env.stderr, /OUTLAST_MESSAGES must be a whole number/);
  const help = await run(t, ["demo", "--help"]);
  assert.equal(help.exit.code, 0);
  assert.match(help.stdout, /Examples:\n {2}outlast demo\n/);
});
