/**
 * Child process for sigkill.test.ts: opens a FileOutbox on argv[2] and appends
 * forever from 16 concurrent appenders until it is SIGKILLed. Prints, with a
 * blocking write(2) on fd 1 (process.stdout queues in memory when the pipe is
 * full, and a SIGKILL would lose the queue):
 *   opening               before open() (the parent may kill it during open)
 *   ready <nextSeq>
 *   try <id>              before each append (the payload is "<id>-kkk...")
 *   stored <seq> <id>     after the append resolved (fdatasync done)
 *   ack <upToSeq>         before acknowledging (those records may vanish)
 */

import { sayBlocking as say } from "../helpers/say-blocking.js";
import { FileOutbox } from "../../src/outbox/file-outbox.js";

const [dir, run] = process.argv.slice(2) as [string, string];
const o = new FileOutbox(dir, { segmentBytes: 64 * 1024 });
say("opening");
await o.open("sigkill-client");
say(`ready ${o.nextSeq}`);
let i = 0;
let storedCount = 0;

async function appender(): Promise<never> {
  for (;;) {
    const id = `r${run}-${i++}`;
    const payload = `${id}-${"k".repeat((i * 131) % 700)}`;
    say(`try ${id}`);
    const seq = await o.append([
      { data: Buffer.from(payload), important: true, createdAtMs: Date.now(), expiresAtMs: Infinity },
    ]);
    say(`stored ${seq} ${id}`);
    if (++storedCount % 50 === 0) {
      const oldest = o.oldest;
      if (oldest !== undefined) {
        const upTo = oldest.seq + 20;
        say(`ack ${upTo}`);
        o.acknowledge(upTo);
      }
    }
  }
}

await Promise.all(Array.from({ length: 16 }, () => appender()));
