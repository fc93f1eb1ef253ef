/**
 * Power loss, simulated: a scripted workload (appends from concurrent callers,
 * acknowledgements, drops, a renumber checkpoint, segment roll-over and
 * deletion, then three reopens that go on appending in the newest segment)
 * runs over CrashFs, which cuts the power at operation k, for EVERY
 * k from the first operation to the last. From each cut we build disk images
 * (nothing unsynced survived / all of it / random mixes of lost, torn,
 * reordered and zeroed writes and lost directory entries) and reopen:
 * - open never fails;
 * - every record reported stored is there (unless acknowledged or dropped), in order;
 * - nothing is invented: every record was appended, and none follows a gap;
 * - sequence numbers are never reused: no seq handed out after a reopen is <=
 *   any seq handed out before, also when the reopen quarantined damage and
 *   the power goes again right after it (before anything is appended).
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import type { OutboxEntry } from "../../src/outbox/outbox.js";
import type { CrashFs } from "../storage/crash-fs.js";
import { atEveryCut } from "../storage/crash-fs.js";

const DIR = "/q";

interface Trace {
  /** Payloads in append-call order. */
  readonly attempts: string[];
  /** Payload -> the seq its append resolved with. */
  readonly reported: Map<string, number>;
  /** Payloads removed by acknowledge/drop (they may or may not come back). */
  readonly removed: Set<string>;
  /** Payload -> the seq renumber gave it. */
  readonly renumberedTo: Map<string, number>;
  renumbered: boolean;
}

function entry(payload: string, important: boolean): OutboxEntry {
  return { data: Buffer.from(payload), important, createdAtMs: 1, expiresAtMs: important ? Infinity : 99 };
}

async function workload(fs: CrashFs, trace: Trace): Promise<void> {
  const o = new FileOutbox(DIR, { fs, segmentBytes: 700 });
  await o.open("client-p");
  let k = 0;
  for (let round = 0; round < 16; round++) {
    const appends: Promise<void>[] = [];
    for (let c = 0; c < 3; c++) {
      const entries: OutboxEntry[] = [];
      const payloads: string[] = [];
      for (let i = 0; i < 1 + ((round + c) % 2); i++) {
        const p = `m${k}-${"x".repeat((k * 37) % 150)}`;
        k++;
        trace.attempts.push(p);
        payloads.push(p);
        entries.push(entry(p, k % 4 !== 0));
      }
      appends.push(o.append(entries).then((first) => payloads.forEach((p, i) => trace.reported.set(p, first + i))));
    }
    if (round % 3 === 2) {
      const live = o.read(0, Infinity, Infinity);
      const upTo = live[1]?.seq ?? 0;
      for (const r of live) if (r.seq <= upTo) trace.removed.add(Buffer.from(r.data).toString());
      o.acknowledge(upTo);
    }
    if (round % 5 === 3) {
      const victim = o.read(0, Infinity, Infinity).find((r) => !r.important);
      if (victim !== undefined) {
        trace.removed.add(Buffer.from(victim.data).toString());
        o.drop(victim.seq, "full");
      }
    }
    if (round === 9) {
      trace.renumbered = true;
      appends.push(o.renumber(0, 1000));
      for (const r of o.read(0, Infinity, Infinity)) trace.renumberedTo.set(Buffer.from(r.data).toString(), r.seq);
    }
    await Promise.all(appends);
    if (round % 4 === 0) await o.sync();
  }
  await o.close();
  // Reopened again and again (as a device that restarts often): appends go on in the newest segment.
  for (let cycle = 0; cycle < 3; cycle++) {
    const r = new FileOutbox(DIR, { fs, segmentBytes: 700 });
    await r.open("client-p");
    for (let round = 0; round < 2; round++) {
      const appends: Promise<void>[] = [];
      for (let c = 0; c < 2; c++) {
        const p = `m${k}-${"z".repeat((k * 53) % 120)}`;
        k++;
        trace.attempts.push(p);
        appends.push(r.append([entry(p, true)]).then((first) => void trace.reported.set(p, first)));
      }
      if (round === 1) {
        const first = r.read(0, 1, Infinity)[0];
        if (first !== undefined) {
          trace.removed.add(Buffer.from(first.data).toString());
          r.acknowledge(first.seq);
        }
      }
      await Promise.all(appends);
    }
    await r.close();
  }
}

function check(trace: Trace, o: FileOutbox, label: string): void {
  const recs = o.read(0, Infinity, Infinity);
  const index = new Map(trace.attempts.map((p, i) => [p, i]));
  const present = new Set<string>();
  let lastIndex = -1;
  let lastSeq = 0;
  for (const r of recs) {
    const p = Buffer.from(r.data).toString();
    const i = index.get(p);
    assert.ok(i !== undefined, `${label}: invented record ${JSON.stringify(p.slice(0, 20))} seq ${r.seq}`);
    assert.ok(i > lastIndex, `${label}: record ${p.slice(0, 8)} out of order`);
    assert.ok(r.seq > lastSeq, `${label}: seqs not increasing`);
    assert.ok(!present.has(p), `${label}: ${p.slice(0, 8)} twice`);
    present.add(p);
    lastIndex = i;
    lastSeq = r.seq;
    const reported = trace.reported.get(p);
    if (reported !== undefined && reported !== r.seq && trace.renumberedTo.get(p) !== r.seq) {
      // Only a renumber whose checkpoint did not survive may leave the old numbers.
      assert.ok(
        trace.renumbered && recs.every((x) => x.seq < 1000),
        `${label}: ${p.slice(0, 8)} has seq ${r.seq}, reported ${reported}`,
      );
    }
  }
  for (const [p, seq] of trace.reported) {
    if (!trace.removed.has(p))
      assert.ok(present.has(p), `${label}: stored record ${p.slice(0, 8)} (seq ${seq}) is missing`);
  }
  // Nothing after a gap: every attempt before the last present one is present, unless acknowledged/dropped.
  for (let i = 0; i < lastIndex; i++) {
    const p = trace.attempts[i] as string;
    if (!trace.removed.has(p))
      assert.ok(present.has(p), `${label}: ${p.slice(0, 8)} missing before a later record (a gap)`);
  }
  const maxPresent = recs.at(-1)?.seq ?? 0;
  assert.ok(o.nextSeq > maxPresent, `${label}: nextSeq ${o.nextSeq} would reuse ${maxPresent}`);
  const preRenumberMax = Math.max(0, ...[...trace.reported.values()].filter((s) => s < 1000));
  assert.ok(o.nextSeq > preRenumberMax, `${label}: nextSeq ${o.nextSeq} <= reported seq ${preRenumberMax}`);
  if (trace.reported.size > 0) assert.equal(o.clientId, "client-p", `${label}: clientId lost`);
}

test("power loss at every write and sync boundary never loses a stored record or invents one", async () => {
  let images = 0;
  let quarantines = 0;
  const newTrace = (): Trace => ({
    attempts: [],
    reported: new Map(),
    removed: new Set(),
    renumberedTo: new Map(),
    renumbered: false,
  });
  const total = await atEveryCut(newTrace, workload, async (img, trace, label, mode) => {
    const o = new FileOutbox(DIR, { fs: img });
    await o.open("someone-else"); // must not throw
    images++;
    const q = o.recoveryReport?.quarantined.length ?? 0;
    quarantines += q;
    if (mode !== "random") assert.equal(q, 0, `${label}: a clean crash must not look like corruption`);
    check(trace, o, label);
    const handedOut = Math.max(0, ...trace.reported.values());
    assert.ok(o.nextSeq > handedOut, `${label}: nextSeq ${o.nextSeq} <= seq ${handedOut} handed out before`);
    // The power goes again right after the open, before anything is appended.
    const crashedAfterOpen = img.image("none");
    // The reopened outbox keeps working and survives another reopen.
    const before = o.read(0, Infinity, Infinity).map((r) => r.seq);
    const seq = await o.append([entry("after", true)]);
    assert.ok(seq > handedOut, `${label}: seq ${seq} after the reopen <= seq ${handedOut} handed out before`);
    await o.close();
    const again = new FileOutbox(DIR, { fs: img });
    await again.open("x");
    assert.deepEqual(
      again.read(0, Infinity, Infinity).map((r) => r.seq),
      [...before, seq],
      `${label}: second reopen`,
    );
    assert.ok(again.nextSeq > seq, `${label}: second reopen: nextSeq ${again.nextSeq} <= seq ${seq} handed out before`);
    await again.close();
    const afterCrash = new FileOutbox(DIR, { fs: crashedAfterOpen });
    await afterCrash.open("x");
    const next = await afterCrash.append([entry("after a crash right after the open", true)]);
    assert.ok(
      next > handedOut,
      `${label}: power cut right after the open: seq ${next} <= seq ${handedOut} handed out before`,
    );
    if (q > 0)
      assert.ok(
        next >= o.nextSeq - 1,
        `${label}: power cut right after the open lost the seq jump (${next} < ${o.nextSeq - 1})`,
      );
    await afterCrash.close();
  });
  assert.ok(total > 100, `the workload should cross many boundaries (saw ${total})`);
  console.log(
    `# power loss: ${total} crash points, ${images} disk images reopened, ${quarantines} corrupt parts quarantined (random images)`,
  );
});
