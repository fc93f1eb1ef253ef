import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryOutbox } from "../../src/outbox/memory-outbox.js";
import { outboxConformance } from "./conformance.js";

outboxConformance("MemoryOutbox", () => new MemoryOutbox());

test("MemoryOutbox: a clientId given to the constructor wins over the proposed one", async () => {
  const o = new MemoryOutbox({ clientId: "fixed" });
  assert.equal(await o.open("proposed"), "fixed");
  assert.equal(o.clientId, "fixed");
  assert.equal(o.durable, false);
  await o.close();
});
