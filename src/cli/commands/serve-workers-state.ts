/**
 * `outlast serve --workers N --state DIR`: the layout of DIR. Worker k keeps its
 * dedup state in `DIR/worker-k`, and DIR records N in the file `DIR/workers`:
 *
 *   outlast-workers 1\nworkers <N>\n
 *
 * A clientId always lands on the same worker for a given N, so its state is in
 * one worker's directory. Started with another N, a client would land on a
 * worker without its state and the messages it resends would be written again
 * (and its lastSeq at reconnect would be wrong). So DIR is checked at every
 * start, before any worker opens anything:
 * - with --workers N: DIR/workers must say N; when it is missing, DIR must be
 *   empty or missing (a directory of a single server's state is refused) and
 *   the file is written, atomically and durably (a temporary file fsync'd, then
 *   linked to its name: two servers starting at once agree on one N);
 * - without --workers (one process): DIR must not hold a `workers` file.
 * Every refusal names --workers and --state and changes nothing in DIR.
 */

import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";

export const WORKERS_FILE = "workers";
const MAGIC = "outlast-workers 1";

/** How the checks name the flags (`--workers` or `OUTLAST_WORKERS`, ...). */
export interface WorkersStateFlags {
  readonly workersSource: string;
  readonly stateSource: string;
}

/** Worker `index`'s state directory under `dir`. */
export function workerStateDir(dir: string, index: number): string {
  return join(dir, `worker-${index}`);
}

function encode(workers: number): string {
  return `${MAGIC}\nworkers ${workers}\n`;
}

/** The N a `workers` file records, or undefined when its content is not ours. */
export function parseWorkersFile(text: string): number | undefined {
  const m = /^outlast-workers 1\nworkers (\d{1,6})\n$/.exec(text);
  return m === null ? undefined : Number(m[1]);
}

async function readRecorded(dir: string): Promise<number | "unreadable" | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, WORKERS_FILE), "latin1");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
  return parseWorkersFile(text) ?? "unreadable";
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

async function fsyncPath(path: string, flags: number): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `DIR/workers` atomically; resolves with the N it holds afterwards (another starter's, if it won). */
async function record(dir: string, workers: number): Promise<number | "unreadable" | undefined> {
  const tmp = join(dir, `.workers-${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(encode(workers), "latin1");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, join(dir, WORKERS_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    await unlink(tmp);
  }
  await fsyncPath(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  return readRecorded(dir);
}

function mismatch(dir: string, recorded: number, workers: number, flags: WorkersStateFlags): Error {
  const given =
    workers === 1
      ? `as one process (no ${flags.workersSource}, or ${flags.workersSource} 1)`
      : `with ${flags.workersSource} ${workers}`;
  return new Error(
    `${flags.stateSource} ${dir} is laid out for ${flags.workersSource} ${recorded} (${join(dir, WORKERS_FILE)}), not started ${given}: ` +
      `each client's dedup state is in the directory of the worker it lands on, and another number of workers would send clients to workers without their state (resent messages written again); ` +
      `pass ${flags.workersSource} ${recorded}, or another ${flags.stateSource}`,
  );
}

/**
 * Checks (and on a first start lays out) the state directory for `workers`
 * processes. Throws an Error naming --workers and --state when DIR belongs to
 * another layout; changes nothing then.
 */
export async function prepareWorkersState(dir: string, workers: number, flags: WorkersStateFlags): Promise<void> {
  let recorded = await readRecorded(dir);
  if (recorded === "unreadable")
    throw new Error(
      `${flags.stateSource} ${dir}: ${join(dir, WORKERS_FILE)} is not a ${flags.workersSource} record (expected "${MAGIC}"); move it away or pass another ${flags.stateSource}`,
    );
  if (workers === 1) {
    if (recorded !== undefined) throw mismatch(dir, recorded, workers, flags);
    return;
  }
  if (recorded === undefined) {
    const found = await entries(dir);
    if (found.length > 0)
      throw new Error(
        `${flags.stateSource} ${dir} holds ${found.some(isSingleServerFile) ? "a single server's state" : "other files"} (${found.slice(0, 3).join(", ")}${found.length > 3 ? ", ..." : ""}), not a ${flags.workersSource} layout: ` +
          `splitting one server's dedup state across ${workers} processes would lose it; start without ${flags.workersSource} on it, or pass an empty or new ${flags.stateSource}`,
      );
    await mkdir(dir, { recursive: true });
    recorded = await record(dir, workers);
  }
  if (recorded !== workers) {
    if (typeof recorded === "number") throw mismatch(dir, recorded, workers, flags);
    throw new Error(`${flags.stateSource} ${dir}: could not record ${flags.workersSource} ${workers} in it`);
  }
}

/** Names a single server's state directory holds (docs/server.md, "State directory"; the last four: the format before). */
const SINGLE_SERVER_FILES = new Set(["lock", "slots", "quarantine", "log", "snapshot", "snapshot.tmp", "progress"]);

function isSingleServerFile(name: string): boolean {
  return SINGLE_SERVER_FILES.has(name) || /^seg-.*\.log$/.test(name);
}
