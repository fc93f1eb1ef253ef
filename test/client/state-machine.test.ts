import assert from "node:assert/strict";
import { test } from "node:test";
import type { StateName } from "../../src/client/state-machine.js";
import { connectionOf, isLegalMove, NEXT, StateMachine } from "../../src/client/state-machine.js";

const ALL: StateName[] = ["connecting", "open", "waiting", "closing", "closed"];

test("state machine: the legal moves are exactly the table", () => {
  const legal = ALL.flatMap((from) => ALL.filter((to) => isLegalMove(from, to)).map((to) => `${from}->${to}`));
  assert.deepEqual(legal, [
    "connecting->open",
    "connecting->waiting",
    "connecting->closing",
    "connecting->closed",
    "open->waiting",
    "open->closing",
    "open->closed",
    "waiting->connecting",
    "waiting->closing",
    "waiting->closed",
    "closing->closed",
  ]);
  assert.deepEqual(NEXT.closed, [], "closed is final");
});

test("state machine: an illegal move throws and leaves the state as it was", () => {
  const sm = new StateMachine({ name: "connecting", attempt: 0, connection: undefined });
  assert.throws(
    () => sm.move({ name: "connecting", attempt: 1, connection: undefined }),
    /illegal state move connecting -> connecting/,
  );
  const from = sm.move({ name: "closing", connection: undefined });
  assert.equal(from.name, "connecting");
  assert.throws(
    () => sm.move({ name: "open", attempt: 0, connection: undefined as never, sinceMs: 0 }),
    /closing -> open/,
  );
  sm.move({ name: "closed", error: undefined });
  for (const name of ALL) {
    assert.throws(() => sm.move({ name, error: undefined } as never), /illegal state move closed/);
  }
  assert.equal(sm.state.name, "closed");
});

test("state machine: update keeps the name, connectionOf reads each state", () => {
  const sm = new StateMachine({ name: "connecting", attempt: 0, connection: undefined });
  sm.update({ name: "connecting", attempt: 3, connection: undefined });
  assert.equal(sm.state.name === "connecting" && sm.state.attempt, 3);
  assert.throws(() => sm.update({ name: "closed", error: undefined }), /update connecting with closed/);
  assert.equal(connectionOf(sm.state), undefined);
  assert.equal(connectionOf({ name: "closed", error: undefined }), undefined);
});
