/**
 * Child process that holds a FileOutbox open (its lock taken), for the
 * inspection tests (test/outbox/inspect.test.ts, test/cli/outbox-cli.test.ts):
 *   node holder-child.js DIR idle   opens, prints "ready <pid> <count> <nextSeq>", waits
 *   node holder-child.js DIR busy   the same, then appends and acknowledges without pause
 *                                   (small segments: they roll over and are deleted)
 * When stdin ends it closes the outbox cleanly and prints
 * "closed <count> <nextSeq> <failure>" (failure: none, or the error's code).
 */

import { FileOutbox } from "../../src/outbox/file-outbox.js";

const [dir, mode] = process.argv.slice(2) as [string, "idle" | "busy"];
const o = new FileOutbox(dir, { segmentBytes: mode === "busy" ? 4096 : 8 * 1024 * 1024 });
await o.open("held-client");
process.stdout.write(`ready ${process.pid} ${o.count} ${o.nextSeq}\n`);

let stopping = false;
const busy = (async (): Promise<void> => {
  if (mode !== "busy") return;
  for (let i = 0; !stopping; i++) {
    const seq = await o.append([
      {
        data: Buffer.from(`busy ${i} ${"b".repeat(i % 200)}`),
        important: i % 3 !== 0,
        createdAtMs: Date.now(),
        expiresAtMs: Infinity,
      },
    ]);
    if (i % 4 === 3) o.acknowledge(seq - 2); // keeps a small backlog moving, so segments fill and are deleted
  }
})();

process.stdin.resume();
process.stdin.on("end", () => {
  stopping = true;
  void busy
    .then(() => o.close())
    .then(() => process.stdout.write(`closed ${o.count} ${o.nextSeq} ${o.failure?.code ?? "none"}\n`));
});
