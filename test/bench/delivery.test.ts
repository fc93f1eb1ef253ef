// The delivery benchmark's harness (bench/delivery/): statistics, the goal verdicts of
// the report, and each contender moving real messages over loopback. No timing is
// asserted here: benchmarks are not tests; this only keeps the harness from rotting.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import type { ContenderName } from "../../bench/delivery/contender.js";
import { loadContender } from "../../bench/delivery/contender.js";
import type { BenchCase, RunResult } from "../../bench/delivery/measure.js";
import { median, percentile, withTimeout } from "../../bench/delivery/measure.js";
import { MOSQUITTO } from "../../bench/delivery/mqtt.js";
import { goalsMarkdown } from "../../bench/delivery/report-markdown.js";
import type { BenchResults, ContenderOutcome } from "../../bench/delivery/results.js";
import { caseId } from "../../bench/delivery/results.js";

test("median and nearest-rank percentile", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile([7], 99), 7);
});

const T256: BenchCase = { kind: "throughput", payloadBytes: 256, messages: 10, window: 4, runs: 1, warmupMessages: 1 };
const SERIAL: BenchCase = { kind: "serial", payloadBytes: 256, messages: 10, runs: 1, warmupMessages: 1 };

function outcome(name: ContenderName, msgsPerSec: number, p50: number, p99: number): ContenderOutcome {
  const run = (extra: Partial<RunResult>): RunResult => ({
    acked: 1000,
    elapsedMs: (1000 / msgsPerSec) * 1000,
    cpuMicros: 1000,
    ...extra,
  });
  const result = (r: RunResult) => ({ runs: [r], peakRssBytes: 1, baselineRssBytes: 1 });
  return {
    name,
    description: name,
    clientVersion: "x",
    serverVersion: "y",
    error: undefined,
    cases: new Map([
      [caseId(T256), { benchCase: T256, result: result(run({})), error: undefined }],
      [
        caseId(SERIAL),
        { benchCase: SERIAL, result: result(run({ p50Micros: p50, p99Micros: p99 })), error: undefined },
      ],
    ]),
  };
}

function results(outlast: ContenderOutcome): BenchResults {
  return {
    command: "x",
    quick: false,
    cases: [T256, SERIAL],
    contenders: [outcome("plain-tcp", 1_000_000, 40, 100), outlast],
    startedAt: new Date(0),
    durationMs: 1,
    loadAverageAtStart: 0,
    cores: 2,
  };
}

test("the report's goal verdicts follow issue 3's thresholds", () => {
  const met = goalsMarkdown(results(outcome("outlast", 500_000, 52, 150)));
  assert.equal(met.match(/\*\*met\*\*/g)?.length, 4, met);
  const missed = goalsMarkdown(results(outcome("outlast", 399_000, 52.1, 150.1)));
  assert.equal(missed.match(/\*\*MISSED\*\*/g)?.length, 3, missed);
  assert.match(missed, /1\.30x/);
  const slow = goalsMarkdown(results(outcome("outlast", 250_000, 52, 150)));
  assert.match(slow, /= 25%, \*\*MISSED\*\*/, slow);
});

async function exercise(name: ContenderName): Promise<void> {
  const contender = await loadContender(name);
  const server = await contender.startServer({ execArgv: [] });
  try {
    const client = await withTimeout(contender.openClient(server.port, `test-${name}`), 10_000, "connect");
    try {
      const payload = Buffer.alloc(256, 1);
      assert.equal(await withTimeout(client.pipelined(payload, 2000, 64), 20_000, "pipelined"), 2000);
      for (let i = 0; i < 20; i++) await withTimeout(client.roundTrip(payload), 10_000, "roundTrip");
      assert.equal(await withTimeout(client.pipelined(payload, 10, 100), 10_000, "pipelined (window > count)"), 10);
    } finally {
      await withTimeout(client.close(), 10_000, "close");
    }
  } finally {
    await server.stop();
  }
  assert.ok(server.version.length > 0);
}

test("plain-tcp contender: every message acknowledged", { timeout: 60_000 }, () => exercise("plain-tcp"));

test("outlast contender: every message acknowledged", { timeout: 60_000 }, () => exercise("outlast"));

test(
  "mqtt contender (MQTT.js to a Mosquitto it starts): every message acknowledged",
  { timeout: 60_000 },
  async (t) => {
    if (!existsSync(MOSQUITTO)) {
      t.skip(`${MOSQUITTO} not installed (Debian package mosquitto; or set MOSQUITTO=/path)`);
      return;
    }
    await exercise("mqtt");
  },
);
