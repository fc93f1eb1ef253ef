/**
 * The checker and the fault plan, on hand-made records: the chaos runs are only
 * as good as the checker's eye for a lost, duplicated or reordered message.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkDelivery } from "./checker.js";
import { countByKind, createFaultPlan, DEFAULT_WEIGHTS, planEndMs } from "./fault-plan.js";
import { checkPayload, makePayload } from "./payload.js";

const h = (gen: number, id: string, seq: number, redelivery = 0, index = seq - 1): string =>
  `H ${gen} ${id} ${seq} ${redelivery} ${index}\n`;
const stored = (id: string, seqs: number[]): Map<string, Set<number>> => new Map([[id, new Set(seqs)]]);

describe("checkDelivery", () => {
  it("passes exactly-once, in-order delivery", () => {
    const r = checkDelivery(h(1, "a", 1) + h(1, "a", 2) + h(2, "a", 3), stored("a", [1, 2, 3]));
    assert.equal(r.ok, true);
    assert.equal(r.delivered, 3);
    assert.equal(r.messagesDelivered, 3);
  });

  it("counts a stored message that never reached the handler as lost", () => {
    const r = checkDelivery(h(1, "a", 1) + h(1, "a", 2), stored("a", [1, 2, 3]));
    assert.equal(r.lost, 1);
    assert.equal(r.ok, false);
    assert.deepEqual(r.samples["lost"], ["a seq 3"]);
  });

  it("counts a second handler call for a seq as duplicated, across server processes too", () => {
    const r = checkDelivery(h(1, "a", 1) + h(1, "a", 2) + h(2, "a", 2), stored("a", [1, 2]));
    assert.equal(r.duplicated, 1);
    assert.equal(r.ok, false);
  });

  it("accepts a crash-window redelivery to the next server process, not one within the same process", () => {
    const crash = checkDelivery(h(1, "a", 1) + "R 2 a 1\n" + h(2, "a", 2), stored("a", [1, 2]));
    assert.equal(crash.crashRedeliveries, 1);
    assert.equal(crash.duplicated, 0);
    assert.equal(crash.ok, true);
    const same = checkDelivery(h(1, "a", 1) + "R 1 a 1\n", stored("a", [1]));
    assert.equal(same.duplicated, 1);
    assert.equal(same.ok, false);
  });

  it("counts reorders and gaps", () => {
    const r = checkDelivery(h(1, "a", 1) + h(1, "a", 3) + h(1, "a", 2) + h(1, "a", 5), stored("a", [1, 2, 3, 5]));
    assert.equal(r.reordered, 1);
    assert.equal(r.gaps, 1);
    assert.deepEqual(r.samples["gaps"], ["a seq 4 never applied (highest 5)"]);
  });

  it("counts corrupt payloads and send errors", () => {
    const r = checkDelivery(h(1, "a", 1, 0, -1), stored("a", [1]), ["a: E 7 OUTLAST_CLOSED closed"]);
    assert.equal(r.corrupt, 1);
    assert.equal(r.sendErrors, 1);
    assert.equal(r.ok, false);
  });

  it("ignores a torn last line", () => {
    const r = checkDelivery(`${h(1, "a", 1)}H 1 a`, stored("a", [1]));
    assert.equal(r.ok, true);
    assert.equal(r.handlerCalls, 1);
  });
});

describe("payload", () => {
  it("round-trips and spots a changed byte", () => {
    const p = Buffer.from(makePayload(1234, 100));
    assert.equal(p.length, 100);
    assert.equal(checkPayload(p), 1234);
    p[50] = 0x41 === p[50] ? 0x42 : 0x41;
    assert.equal(checkPayload(p), -1);
  });
});

describe("createFaultPlan", () => {
  const options = { seed: 42, faults: 200, meanGapMs: 400, weights: DEFAULT_WEIGHTS, clients: 2 };

  it("is the same for the same seed and differs for another", () => {
    assert.deepEqual(createFaultPlan(options), createFaultPlan(options));
    assert.notDeepEqual(createFaultPlan(options), createFaultPlan({ ...options, seed: 43 }));
  });

  it("holds the asked number of faults, in time order, of the weighted kinds only", () => {
    const plan = createFaultPlan(options);
    assert.equal(plan.length, 200);
    for (let i = 1; i < plan.length; i++) assert.ok((plan[i]?.atMs ?? 0) >= (plan[i - 1]?.atMs ?? 0));
    const kinds = countByKind(plan);
    assert.equal(kinds["client-kill"], undefined, "client-kill has no weight by default");
    for (const kind of Object.keys(DEFAULT_WEIGHTS))
      assert.ok((kinds[kind] ?? 0) > 0, `${kind} never planned in 200 faults`);
    assert.ok(planEndMs(plan) > 200 * 400 * 0.5);
  });
});
