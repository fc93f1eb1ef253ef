/**
 * `outlast outbox inspect DIR` and `outlast outbox purge DIR`: look into a
 * durable outbox (what `outlast send` or `connect(url, { outbox })` left), or
 * empty it.
 */

import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command, type CommandIo } from "../command.js";
import { formatFailure, readOptions, reportUncaught } from "../config.js";
import { countOf, formatBytes, formatCount, formatDuration } from "../live/widgets.js";
import { purgeOutbox } from "../../outbox/purge.js";
import { inspectDir, openOutbox, purgeSummary, type InspectReport } from "./outbox-inspect.js";

const NAME = "outbox";

const HELP = `Usage: outlast outbox inspect DIR [--json]
       outlast outbox purge DIR [--yes]

inspect: what a durable outbox holds: messages and bytes stored, first and last
  sequence number, when the oldest one was created, the clientId, the corrupt
  parts moved to DIR/quarantine/ (a crash or a bad disk), and damage the next
  open will repair. It only reads: it takes no lock and writes nothing, so it
  works while an \`outlast send\` is using DIR (it says so, with its pid).
  --json prints it as one JSON object on stdout.
purge: deletes every stored message and the quarantined parts, for good (the
  clientId and the sequence numbering are kept, so a server never mistakes new
  messages for old ones). Asks first on a terminal; --yes skips the question.
  Without --yes and without a terminal it refuses (exit 2). It takes the
  outbox's lock: stop the \`outlast send\` (or the program) using DIR first.

  --json      inspect: print JSON
  --yes, -y   purge: do not ask
  --debug     show stack traces on errors
  -h, --help  show this help

Examples:
  outlast outbox inspect ~/.local/state/outlast/outbox/tcp-127.0.0.1-7070
  outlast outbox inspect ./q --json | jq .messages
  outlast outbox purge ./q --yes

Exit codes: 0 done; 1 failure (no outbox at DIR, unreadable, purge of an
outbox in use by another process); 2 usage error, or purge without --yes when stdin is not a terminal.
`;

const OPTIONS = {
  json: { type: "boolean" },
  yes: { type: "boolean", short: "y", env: false },
} as const;

function describe(i: InspectReport): string {
  const row = (k: string, v: string): string => `  ${k.padEnd(16)}${v}\n`;
  let s = `outbox ${i.dir}\n`;
  if (i.lockedBy !== undefined)
    s += row("in use", `by pid ${i.lockedBy} (an outlast send?); this is a snapshot, read without its lock`);
  s += row("clientId", i.clientId ?? "none yet (nothing was ever stored)");
  s += row(
    "messages",
    `${formatCount(i.messages)} (${formatBytes(i.bytes)}; ${formatBytes(i.diskBytes)} on disk in ${countOf(i.segments, "segment")})`,
  );
  if (i.messages > 0) {
    s += row("seq", `${i.firstSeq ?? "-"} .. ${i.lastSeq ?? "-"} (next ${i.nextSeq})`);
    s += row(
      "kinds",
      `${formatCount(i.importantMessages)} important, ${formatCount(i.bestEffortMessages)} best-effort, ${formatCount(i.expiringMessages)} with a ttl`,
    );
    const t = i.oldestCreatedAtMs;
    s += row(
      "oldest",
      i.oldestAgeMs !== undefined && t !== undefined
        ? `created ${formatDuration(i.oldestAgeMs)} ago (${new Date(t).toISOString()})`
        : "unknown (its record carries no wall-clock time)",
    );
  } else {
    s += row("seq", `none stored (next ${i.nextSeq})`);
  }
  s += row(
    "quarantined",
    i.quarantined.length === 0
      ? "none"
      : `${countOf(i.quarantined.length, "part")}, ${formatBytes(i.quarantinedBytes)}: ${i.quarantined.map((q) => q.file).join(", ")}`,
  );
  if (i.tornBytes > 0) {
    const why = i.lockedBy !== undefined ? "a write in progress, or a crash" : "a crash mid-write";
    s += row(
      "torn tail",
      `${formatBytes(i.tornBytes)} at the end of the newest segment (${why}); the next open cuts it off`,
    );
  }
  if (i.damaged.length > 0) {
    const parts = i.damaged.map((d) => `${d.segment} at ${d.offset} (${d.reason})`).join(", ");
    s += row(
      "damaged",
      `${countOf(i.damaged.length, "corrupt part")}, ${formatBytes(i.damaged.reduce((a, d) => a + d.bytes, 0))}: ${parts}; the next open moves ${i.damaged.length === 1 ? "it" : "them"} to quarantine/`,
    );
  }
  return s;
}

async function inspect(dir: string, json: boolean, io: CommandIo): Promise<number> {
  const i = await inspectDir(dir);
  io.out(json ? `${JSON.stringify(i, null, 2)}\n` : describe(i));
  return EXIT_OK;
}

async function ask(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^\s*y(es)?\s*$/i.test(await rl.question(question));
  } finally {
    rl.close();
  }
}

async function purge(dir: string, yes: boolean, io: CommandIo): Promise<number> {
  if (!yes && process.stdin.isTTY !== true)
    throw new UsageError(`purge deletes messages for good: pass --yes (stdin is not a terminal, so it cannot ask)`);
  const outbox = await openOutbox(dir);
  try {
    const i = await purgeSummary(outbox);
    if (i.messages === 0 && i.quarantined.length === 0) {
      io.err(`outlast ${NAME}: ${dir} holds no messages; nothing to purge\n`);
      return EXIT_OK;
    }
    const what = `${countOf(i.messages, "message")} (${formatBytes(i.bytes)})${i.quarantined.length > 0 ? ` and ${countOf(i.quarantined.length, "quarantined part")}` : ""}`;
    if (
      !yes &&
      !(await ask(`Delete ${what} stored in ${dir} for clientId ${i.clientId}? They will never be delivered. [y/N] `))
    ) {
      io.err(`outlast ${NAME}: nothing deleted\n`);
      return EXIT_FAILURE;
    }
    await purgeOutbox(outbox);
    io.err(`outlast ${NAME}: purged ${what} from ${dir}\n`);
    return EXIT_OK;
  } finally {
    await outbox.close();
  }
}

export const outbox: Command = {
  summary: "inspect or purge a durable outbox directory (what `outlast send` has not delivered yet)",
  help: HELP,
  async run(args, io) {
    const { values: v, positionals } = readOptions(args, OPTIONS, { env: process.env, allowPositionals: true });
    if (v.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const [action, dir, ...extra] = positionals;
    if (action !== "inspect" && action !== "purge")
      throw new UsageError(
        action === undefined
          ? "needs inspect or purge"
          : `unknown action ${JSON.stringify(action)}: use inspect or purge`,
      );
    if (dir === undefined) throw new UsageError(`${action} needs the outbox directory`);
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    if (action === "inspect" && v.yes) throw new UsageError("--yes is for purge");
    if (action === "purge" && v.json) throw new UsageError("--json is for inspect");
    const removeUncaught = reportUncaught(NAME, v.debug);
    try {
      return action === "inspect" ? await inspect(resolve(dir), v.json, io) : await purge(resolve(dir), v.yes, io);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      io.err(formatFailure(NAME, err, v.debug));
      return EXIT_FAILURE;
    } finally {
      removeUncaught();
    }
  },
};
