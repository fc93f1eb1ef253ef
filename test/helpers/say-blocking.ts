/**
 * One line on fd 1 with a blocking write(2), for child processes a test SIGKILLs:
 * process.stdout queues in memory when the pipe is full, and a SIGKILL would lose that
 * queue; what this wrote is in the pipe.
 */

import { writeSync } from "node:fs";

export function sayBlocking(line: string): void {
  const b = Buffer.from(`${line}\n`);
  let done = 0;
  while (done < b.length) {
    try {
      done += writeSync(1, b, done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err; // pipe full: the parent is reading, retry
    }
  }
}
