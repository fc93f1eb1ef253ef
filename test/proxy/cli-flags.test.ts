import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/cli/command.js";
import {
  faultsFromFlags,
  parseLatency,
  parsePair,
  parseRate,
  parseSlicer,
} from "../../src/cli/commands/proxy-flags.js";

test("fault flag values: rates, latency±jitter, slicer, DOWN/EVERY pairs", () => {
  assert.equal(parseRate("--bandwidth", "64KiB/s"), 65_536);
  assert.equal(parseRate("--bandwidth", "1MB/s"), 1_000_000);
  assert.equal(parseRate("--bandwidth", "5000"), 5000);
  assert.deepEqual(parseLatency("--latency", "100ms±20"), { latencyMs: 100, jitterMs: 20 });
  assert.deepEqual(parseLatency("--latency", "1s+-200ms"), { latencyMs: 1000, jitterMs: 200 });
  assert.deepEqual(parseLatency("--latency", "80"), { latencyMs: 80, jitterMs: 0 });
  assert.deepEqual(parseLatency("--latency", "0±0"), { latencyMs: 0, jitterMs: 0 });
  assert.deepEqual(parseSlicer("--slicer", "16±8/2ms"), { averageSizeBytes: 16, sizeVariationBytes: 8, delayMs: 2 });
  assert.deepEqual(parseSlicer("--slicer", "4"), { averageSizeBytes: 4, sizeVariationBytes: 0, delayMs: 1 });
  assert.deepEqual(parsePair("--blackhole", "0/10s", ""), [0, 10_000]);
  for (const [fn, what] of [
    [() => parseLatency("--latency", "1±2±3"), "latency"],
    [() => parseLatency("--latency", "soon"), "duration"],
    [() => parseRate("--bandwidth", "0"), "rate"],
    [() => parseSlicer("--slicer", "big"), "slicer"],
    [() => faultsFromFlags({ direction: "sideways" }), "direction"],
    [() => faultsFromFlags({ probability: "2" }), "probability"],
    [() => faultsFromFlags({ blackhole: "10s/2s" }), "blackhole"],
    [() => faultsFromFlags({ "reset-every": "0" }), "reset-every"],
  ] as const) {
    assert.throws(fn, UsageError, what);
  }
});

test("fault flags become faults with --direction and --probability", () => {
  assert.deepEqual(
    faultsFromFlags({ latency: "10ms", direction: "upstream", probability: "0.25", flap: "1s/5s", hold: true }),
    [
      { kind: "latency", direction: "upstream", probability: 0.25, latencyMs: 10, jitterMs: 0 },
      {
        kind: "schedule",
        mode: "random",
        meanUpMs: 5000,
        meanDownMs: 1000,
        fault: { kind: "blackhole", direction: "upstream", probability: 0.25 },
      },
      { kind: "hold", probability: 0.25 },
    ],
  );
  assert.deepEqual(faultsFromFlags({ "close-every": "2s", "limit-data": "1KiB" }), [
    { kind: "limit-data", direction: "both", probability: 1, bytes: 1024 },
    { kind: "schedule", everyMs: 2000, downMs: 0, fault: { kind: "close", direction: "both", probability: 1 } },
  ]);
});
