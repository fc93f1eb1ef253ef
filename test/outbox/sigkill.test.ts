/**
 * SIGKILL, for real: a child process appends to one FileOutbox from 16
 * concurrent appenders and is killed with SIGKILL at a random moment (during
 * open, or after a random number of stored records), 110 times over one
 * growing outbox. After each kill the parent reopens the directory and checks
 * that every record the child reported stored is there, with the seq it was
 * given, in order, exactly once (unless the child acknowledged it), and that
 * nothing appears that the child did not try to append.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { FileOutbox } from "../../src/outbox/file-outbox.js";
import { rng, testSeed } from "../helpers/seed.js";

const CHILD = fileURLToPath(new URL("./sigkill-child.js", import.meta.url));
const RUNS = 110;

interface Run {
  readonly tried: Set<string>;
  readonly stored: Map<string, number>;
  ackedUpTo: number;
}

/** Runs the child until it has printed `killAfterStored` stored lines (or `killAfterMs` passed since it began opening the outbox), then SIGKILLs it. */
function runChild(
  dir: string,
  run: number,
  killAfterStored: number,
  killAfterMs: number | undefined,
  into: Run,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(run)], { stdio: ["ignore", "pipe", "pipe"] });
    let stored = 0;
    let stderr = "";
    let killed = false;
    const kill = (): void => {
      if (!killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    };
    const guard = setTimeout(() => {
      kill();
      reject(
        new Error(`run ${run}: the child did not reach ${killAfterStored} stored records in 20 s; stderr: ${stderr}`),
      );
    }, 20_000);
    let timer: NodeJS.Timeout | undefined;
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const [kind, a, b] = line.split(" ");
      if (kind === "opening" && killAfterMs !== undefined) timer = setTimeout(kill, killAfterMs);
      else if (kind === "try") into.tried.add(a as string);
      else if (kind === "stored") {
        into.stored.set(b as string, Number(a));
        if (++stored >= killAfterStored && killAfterMs === undefined) kill();
      } else if (kind === "ack") into.ackedUpTo = Math.max(into.ackedUpTo, Number(a));
    });
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      if (timer !== undefined) clearTimeout(timer);
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`run ${run}: child exited with ${code ?? signal}; stderr: ${stderr}`));
    });
  });
}

test(`SIGKILL at random moments, ${RUNS} times over one growing outbox: every stored record survives, in order, exactly once`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "outlast-sigkill-"));
  const random = rng(testSeed(t, 20240611));
  const all: Run = { tried: new Set(), stored: new Map(), ackedUpTo: 0 };
  let maxSeqSeen = 0;
  let duringOpen = 0;
  try {
    for (let run = 0; run < RUNS; run++) {
      const early = random() < 0.2;
      await runChild(dir, run, 1 + Math.floor(random() * 150), early ? Math.floor(random() * 25) : undefined, all);
      if (early) duringOpen++;

      const o = new FileOutbox(dir);
      await o.open("parent"); // the dead child's lock is stale: taken over
      try {
        if (all.stored.size > 0) assert.equal(o.clientId, "sigkill-client");
        else assert.ok(["sigkill-client", "parent"].includes(o.clientId), `run ${run}: clientId ${o.clientId}`);
        const recs = o.read(0, Infinity, Infinity);
        const present = new Map<string, number>();
        let last = 0;
        for (const r of recs) {
          const p = Buffer.from(r.data).toString().split("-").slice(0, 2).join("-"); // the id
          assert.ok(
            all.tried.has(p),
            `run ${run}: invented record seq ${r.seq}: ${p.slice(0, 30)} (${p.length} bytes)`,
          );
          assert.ok(!present.has(p), `run ${run}: ${p.slice(0, 12)} twice`);
          assert.ok(r.seq > last, `run ${run}: out of order`);
          last = r.seq;
          present.set(p, r.seq);
        }
        for (const [p, seq] of all.stored) {
          if (seq <= all.ackedUpTo) continue;
          assert.equal(
            present.get(p),
            seq,
            `run ${run}: stored record ${p.slice(0, 12)} (seq ${seq}) is ${present.has(p) ? "renumbered" : "missing"}`,
          );
        }
        const maxStored = Math.max(0, ...all.stored.values());
        assert.ok(o.nextSeq > maxStored, `run ${run}: nextSeq ${o.nextSeq} would reuse seq ${maxStored}`);
        assert.ok(o.nextSeq >= maxSeqSeen, "nextSeq never goes back");
        maxSeqSeen = o.nextSeq;
        assert.equal(o.recoveryReport?.quarantined.length, 0, `run ${run}: a kill is not corruption`);
      } finally {
        await o.close();
      }
    }
    assert.ok(all.stored.size > 1000, `expected a growing outbox (stored ${all.stored.size})`);
    console.log(
      `# sigkill: ${RUNS} kills (${duringOpen} at a random early moment), ${all.stored.size} records reported stored, all checked`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
