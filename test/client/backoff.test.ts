import assert from "node:assert/strict";
import { test } from "node:test";
import type { StateChangeEvent } from "../../src/index.js";
import { connect, ManualClock } from "../../src/index.js";
import { waitFor } from "./helpers.js";
import { closedPort } from "../helpers/wait.js";

test("backoff: full-jitter delays double from baseMs up to capMs (injected clock and random)", async () => {
  const clock = new ManualClock();
  const port = await closedPort();
  const client = connect(`tcp://127.0.0.1:${port}`, { clock, random: () => 0.999 });
  try {
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const e = await waitFor<StateChangeEvent>(client, "stateChange", (x) => x.to === "waiting", 5000);
      assert.equal(e.classification?.kind, "refused");
      delays.push(Math.round(e.delayMs ?? -1));
      const connecting = waitFor<StateChangeEvent>(client, "stateChange", (x) => x.to === "connecting", 5000);
      clock.advance(Math.ceil(e.delayMs ?? 0));
      await connecting;
    }
    assert.deepEqual(delays, [50, 100, 200, 400, 799, 799, 799]);
    assert.equal(client.stats().reconnects["refused"], 7);
  } finally {
    await client.destroy();
  }
  assert.equal(client.state, "closed");
  assert.equal(clock.pending, 0, "destroy leaves no timer behind");
});

test("backoff: nothing happens before the delay (no hot loop), jitter spreads the delay", async () => {
  const clock = new ManualClock();
  const port = await closedPort();
  const client = connect(`tcp://127.0.0.1:${port}`, { clock, random: () => 0.5 });
  try {
    const e = await waitFor<StateChangeEvent>(client, "stateChange", (x) => x.to === "waiting", 5000);
    assert.equal(e.delayMs, 25);
    clock.advance(24);
    assert.equal(client.state, "waiting");
    clock.advance(1);
    assert.equal(client.state, "connecting");
  } finally {
    await client.destroy();
  }
});
