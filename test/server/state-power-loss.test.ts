/**
 * Power loss under the server's state directory, simulated: a scripted
 * workload (three clients, handler calls with their progress marks, group
 * commits, compactions into checkpoint segments, a client first seen late,
 * clean restarts that each write a checkpoint) runs over CrashFs, in a state
 * directory the same run creates, and the power goes at operation k, for
 * EVERY k from the first operation to the last. From each cut we build disk
 * images (nothing unsynced survived / all of it / random mixes of lost, torn,
 * reordered and zeroed writes and lost directory entries) and restart:
 * - open never fails (the lock of the dead server is taken over);
 * - no acknowledged message's handler runs again: lastSeq >= every seq the
 *   commit listener reported (the server acknowledges only those);
 * - nothing is lost: lastSeq <= the highest seq whose handler succeeded (a seq
 *   above it would be skipped as a duplicate without ever being handled);
 * - what the restarted state reports (WELCOME's lastSeq) is durable: the
 *   power going again right after the open keeps it;
 * - the restarted state works on and survives another restart.
 * And a process kill at each operation (the page cache survives): the slots
 * are exact, every seq that was handled is skipped after the restart.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { FileDedupState } from "../../src/server/file-dedup-state.js";
import type { ClientProgress } from "../../src/server/dedup-state.js";
import type { CrashFs } from "../storage/crash-fs.js";
import { atEveryCut } from "../storage/crash-fs.js";

const DIR = "/srv/outlast/state";
const CLIENTS = ["robot-a", "robot-b", `robot-${"é".repeat(60)}`];

interface Trace {
  /** clientId -> highest seq whose handler succeeded. */
  readonly handled: Map<string, number>;
  /** clientId -> highest seq the commit listener reported (acknowledged). */
  readonly acked: Map<string, number>;
  failed: boolean;
}

function opened(fs: CrashFs, trace: Trace | undefined): FileDedupState {
  const state = new FileDedupState(DIR, { fs, compactAfterBytes: 900 });
  state.setListeners(
    (c) => {
      for (const [id, seq] of c) {
        if (trace === undefined) continue;
        assert.ok(seq > (trace.acked.get(id) ?? 0), `commit reported ${id} ${seq} twice`);
        trace.acked.set(id, seq);
      }
    },
    () => {
      if (trace !== undefined) trace.failed = true;
    },
  );
  return state;
}

async function workload(fs: CrashFs, trace: Trace): Promise<void> {
  for (let cycle = 0; cycle < 3; cycle++) {
    const state = opened(fs, trace);
    await state.open();
    const ids = cycle === 0 ? CLIENTS : [...CLIENTS, `late-${cycle}`];
    const marks = new Map<string, ClientProgress>();
    for (const id of ids) {
      assert.equal(state.load(id).lastSeq, trace.handled.get(id) ?? 0, `${id} after a clean restart`);
      marks.set(id, state.progress(id));
    }
    for (let round = 0; round < 6; round++) {
      for (const id of ids) {
        const p = marks.get(id) as ClientProgress;
        let seq = trace.handled.get(id) ?? 0;
        for (let i = 0; i <= (round + cycle + id.length) % 3; i++) {
          seq++;
          p.starting(seq);
          if (trace.failed) return; // the server stops at the state's fatal error
          trace.handled.set(id, seq); // the handler ran and succeeded
          p.finished(seq);
          state.record(id, seq);
        }
        p.settle();
      }
      state.commit();
      if (round % 2 === 1) await state.flush();
      if (trace.failed) return;
    }
    await state.close(true);
  }
}

async function check(img: CrashFs, trace: Trace, label: string): Promise<void> {
  const state = opened(img, undefined);
  await state.open(); // must not throw
  const reported = new Map<string, number>();
  for (const id of [...CLIENTS, "late-1", "late-2"]) {
    const { lastSeq } = state.load(id);
    reported.set(id, lastSeq);
    const acked = trace.acked.get(id) ?? 0;
    const handled = trace.handled.get(id) ?? 0;
    assert.ok(
      lastSeq >= acked,
      `${label}: ${id} lastSeq ${lastSeq} < acknowledged ${acked}: its handler would run again`,
    );
    assert.ok(lastSeq <= handled, `${label}: ${id} lastSeq ${lastSeq} > handled ${handled}: messages would be lost`);
  }
  const cutAgain = img.image("none"); // the power goes again right after the open
  for (const id of CLIENTS) state.record(id, (reported.get(id) ?? 0) + 1);
  await state.flush();
  await state.close(true);
  const again = opened(img, undefined);
  await again.open();
  for (const id of CLIENTS)
    assert.equal(again.load(id).lastSeq, (reported.get(id) ?? 0) + 1, `${label}: ${id} after a second restart`);
  await again.close(true);
  const afterCut = opened(cutAgain, undefined);
  await afterCut.open();
  for (const [id, seq] of reported)
    assert.ok(
      afterCut.load(id).lastSeq >= seq,
      `${label}: ${id}: power cut right after the open took back lastSeq ${seq} (reported ${afterCut.load(id).lastSeq})`,
    );
  await afterCut.close(true);
}

/**
 * The process died at that operation and the machine kept running: the slots are exact, so
 * every handler that ran is skipped (lastSeq is the highest seq handled) and at most the
 * one seq a cut `starting()` announced is in doubt.
 */
async function checkProcessKill(img: CrashFs, trace: Trace, label: string): Promise<void> {
  const state = opened(img, undefined);
  await state.open();
  for (const id of [...CLIENTS, "late-1", "late-2"]) {
    const { lastSeq, inDoubt } = state.load(id);
    const handled = trace.handled.get(id) ?? 0;
    assert.equal(lastSeq, handled, `${label}: ${id} lastSeq ${lastSeq}, but ${handled} were handled`);
    assert.ok(inDoubt.toSeq <= handled + 1, `${label}: ${id} in doubt up to ${inDoubt.toSeq}, handled ${handled}`);
  }
  await state.close(true);
}

test("server state: power loss at every write and sync boundary never runs an acknowledged message again, never loses one", async () => {
  let images = 0;
  const newTrace = (): Trace => ({ handled: new Map(), acked: new Map(), failed: false });
  const total = await atEveryCut(newTrace, workload, async (img, trace, label, mode, cut) => {
    await check(img, trace, label);
    images++;
    if (mode === "none")
      await checkProcessKill(cut.afterProcessKill(), trace, label.replace(", none", ", process kill"));
  });
  assert.ok(total > 100, `the workload should cross many boundaries (saw ${total})`);
  console.log(`# server state power loss: ${total} crash points, ${images} disk images restarted`);
});
