/** purgeOutbox: what `outlast outbox purge` does, through the outbox's own API. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { purgeOutbox } from "../../src/outbox/purge.js";

test("purgeOutbox gives up every stored message and the quarantined parts, keeping the clientId and the numbering", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "outlast-purge-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const entry = { data: Buffer.from("x".repeat(10)), important: true, createdAtMs: Date.now(), expiresAtMs: Infinity };
  const outbox = new FileOutbox(dir);
  const clientId = await outbox.open("purge-test");
  await outbox.append([entry, entry, entry]);
  mkdirSync(join(dir, "quarantine"), { recursive: true });
  writeFileSync(join(dir, "quarantine", "seg-0000000000000009.log.1"), "damaged");
  const result = await purgeOutbox(outbox);
  assert.equal(result.messages, 3);
  assert.equal(result.bytes, 30);
  assert.deepEqual(
    result.quarantined.map((q) => q.file),
    ["quarantine/seg-0000000000000009.log.1"],
  );
  assert.equal(outbox.count, 0);
  assert.deepEqual(readdirSync(join(dir, "quarantine")), []);
  await outbox.close();
  const again = new FileOutbox(dir);
  assert.equal(await again.open("other"), clientId);
  assert.equal(again.count, 0, "the purge is durable");
  assert.equal(again.nextSeq, 4, "the numbering goes on");
  await again.close();
});
