/**
 * The chaos suite as a script: CI-size runs, the bench-size run (1,000,000
 * messages, >= 500 faults) and the kernel-fault run in network namespaces, each
 * reported with its seed; `--write-doc` writes the figures into docs/reliability.md
 * with the command that reproduces each run.
 *
 *   node scripts/setup.mjs && node dist/bench/chaos.js [--run NAME]... [--seed N] [--write-doc]
 *
 * Runs: ci-memory-outbox, ci-durable-outbox (the CI sizes), bench-memory-outbox,
 * bench-durable-outbox (--size bench: 1,000,000 messages), netns-kernel-faults (root only).
 * Default: the CI runs and the netns run. Exit 1 when a run fails.
 */

import { parseArgs } from "node:util";
import { netnsAvailable } from "../test/helpers/netns.js";
import { runNetnsChaos } from "../test/chaos/netns-run.js";
import { formatReport } from "../test/chaos/report.js";
import { writeReliabilitySection } from "../test/chaos/reliability-doc.js";
import { runChaos, type ChaosReport } from "../test/chaos/run-chaos.js";
import { BENCH_RUNS, chaosSeed, CI_RUNS, NETNS_RUN, NETNS_SIZE, type ChaosSize } from "../test/chaos/sizes.js";

const { values } = parseArgs({
  options: {
    run: { type: "string", multiple: true },
    size: { type: "string" },
    seed: { type: "string" },
    "write-doc": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "usage: node dist/bench/chaos.js [--run NAME]... [--size ci|bench] [--seed N] [--write-doc] [--verbose]\n" +
      `runs: ${[...CI_RUNS, ...BENCH_RUNS].map((r) => r.name).join(", ")}, ${NETNS_RUN}\n`,
  );
  process.exit(0);
}
if (values.seed !== undefined) process.env["OUTLAST_CHAOS_SEED"] = values.seed;

const all: readonly ChaosSize[] = [...CI_RUNS, ...BENCH_RUNS];
const wanted: string[] =
  values.run ?? (values.size === "bench" ? BENCH_RUNS.map((r) => r.name) : [...CI_RUNS.map((r) => r.name), NETNS_RUN]);
const log = values.verbose ? (line: string): void => void process.stderr.write(`  ${line}\n`) : undefined;
let failed = false;

for (const name of wanted) {
  const seed = chaosSeed();
  const command = `node scripts/setup.mjs && node dist/bench/chaos.js --run ${name} --seed ${seed}`;
  process.stderr.write(`chaos: ${name}, seed ${seed}\n`);
  let report: ChaosReport;
  if (name === NETNS_RUN) {
    const available = netnsAvailable();
    if (!available.ok) {
      process.stderr.write(`chaos: ${name} skipped: ${available.reason}\n`);
      continue;
    }
    const r = await runNetnsChaos({ seed, ...NETNS_SIZE, ...(log ? { log } : {}) });
    for (const [kind, m] of Object.entries(r.mechanisms))
      process.stdout.write(`  ${kind}: ${m.available ? m.how : `did not run: ${m.how}`}\n`);
    report = r;
  } else {
    const size = all.find((r) => r.name === name);
    if (size === undefined) {
      process.stderr.write(`chaos: unknown run ${JSON.stringify(name)}; see --help\n`);
      process.exit(2);
    }
    report = await runChaos({ ...size, seed, ...(log ? { log } : {}) });
  }
  process.stdout.write(`${formatReport(report, command)}\n`);
  failed ||= !report.passed;
  if (values["write-doc"]) process.stderr.write(`chaos: wrote ${writeReliabilitySection(report, command)}\n`);
}
process.exit(failed ? 1 : 0);
