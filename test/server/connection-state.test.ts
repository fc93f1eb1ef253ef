import assert from "node:assert/strict";
import { test } from "node:test";
import { serverFrameRule } from "../../src/protocol/frame-rules.js";
import type { ConnectionStateName } from "../../src/server/connection-state.js";
import { NEXT, isLegalMove } from "../../src/server/connection-state.js";

const NAMES = Object.keys(NEXT) as ConnectionStateName[];

test("every connection state has a frame rule row, and closed is final", () => {
  for (const name of NAMES) assert.equal(typeof serverFrameRule(name, "ping"), "string", name);
  assert.deepEqual(NEXT.closed, []);
});

test("a connection is welcomed only after authenticating, and drains only once open", () => {
  assert.equal(isLegalMove("awaiting-hello", "open"), false);
  assert.equal(isLegalMove("authenticating", "open"), true);
  assert.equal(isLegalMove("authenticating", "draining"), false);
  assert.equal(isLegalMove("open", "draining"), true);
  assert.equal(isLegalMove("draining", "open"), false);
  for (const name of NAMES) if (name !== "closed") assert.equal(isLegalMove(name, "closed"), true, name);
});
