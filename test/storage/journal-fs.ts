/**
 * Power cuts for a REAL process: preloaded into it (`node --import
 * dist/test/storage/journal-fs.js ...`), this module wraps the storage layer's
 * real file system (`nodeFs`) so every operation the log makes is also
 * appended, synchronously, to a journal file (OUTLAST_TEST_FS_JOURNAL): writes
 * before they are issued (one in progress at a SIGKILL may be partly on disk),
 * creates, syncs and directory changes once they succeeded. After the parent
 * SIGKILLs the process, `replayJournal` replays the journal into a CrashFs
 * (crash-fs.ts), whose images say what a power cut at that moment could have
 * left on disk. OUTLAST_TEST_BOOT_ID gives the process the boot id of a
 * machine that restarted. Nothing in src/ knows about this module.
 */

import { openSync, writeSync } from "node:fs";
import type { InPlaceFile, StorageFile, StorageFs } from "../../src/storage/fs-layer.js";
import { nodeFs } from "../../src/storage/fs-layer.js";
import { CrashFs } from "./crash-fs.js";

type Op =
  | { op: "mkdirp"; dir: string }
  | { op: "create" | "open" | "inplace"; path: string; id: number }
  | { op: "write"; id: number; pos: number; data: string }
  | { op: "truncate"; id: number; length: number }
  | { op: "datasync"; id: number }
  | { op: "unlink"; path: string }
  | { op: "rename" | "link"; from: string; to: string }
  | { op: "fsyncDir"; dir: string };

function install(journalPath: string, bootId: string | undefined): void {
  const fd = openSync(journalPath, "a");
  const log = (op: Op): void => void writeSync(fd, `${JSON.stringify(op)}\n`);
  let nextId = 0;
  const real = { ...nodeFs };
  const wrapFile = (file: StorageFile, id: number): StorageFile => ({
    write: (data, pos) => {
      log({ op: "write", id, pos, data: Buffer.from(data).toString("base64") });
      return file.write(data, pos);
    },
    writeNow: (data, pos) => {
      log({ op: "write", id, pos, data: Buffer.from(data).toString("base64") });
      file.writeNow(data, pos);
    },
    datasync: async () => {
      await file.datasync();
      log({ op: "datasync", id });
    },
    truncate: async (length) => {
      await file.truncate(length);
      log({ op: "truncate", id, length });
    },
    close: () => file.close(),
  });
  const patch: Partial<StorageFs> = {
    async mkdirp(dir) {
      const made = await real.mkdirp(dir);
      log({ op: "mkdirp", dir });
      return made;
    },
    async createExclusive(path) {
      const file = await real.createExclusive(path);
      const id = nextId++;
      log({ op: "create", path, id });
      return wrapFile(file, id);
    },
    async openForWrite(path) {
      const file = await real.openForWrite(path);
      const id = nextId++;
      log({ op: "open", path, id });
      return wrapFile(file, id);
    },
    async openInPlace(path): Promise<InPlaceFile> {
      const file = await real.openInPlace(path);
      const id = nextId++;
      log({ op: "inplace", path, id });
      return {
        contents: file.contents,
        writeAt: (data, pos) => {
          log({ op: "write", id, pos, data: Buffer.from(data).toString("base64") });
          file.writeAt(data, pos);
        },
        datasync: async () => {
          await file.datasync();
          log({ op: "datasync", id });
        },
        close: () => file.close(),
      };
    },
    async unlink(path) {
      await real.unlink(path);
      log({ op: "unlink", path });
    },
    async rename(from, to) {
      await real.rename(from, to);
      log({ op: "rename", from, to });
    },
    async link(from, to) {
      await real.link(from, to);
      log({ op: "link", from, to });
    },
    async fsyncDir(dir) {
      await real.fsyncDir(dir);
      log({ op: "fsyncDir", dir });
    },
  };
  if (bootId !== undefined) patch.bootId = () => bootId;
  Object.assign(nodeFs, patch);
}

/**
 * Replays a journal (its last line may be cut short by the SIGKILL) over the
 * files that were on disk (all durable) when the process started.
 */
export async function replayJournal(text: string, initial: ReadonlyMap<string, Uint8Array>): Promise<CrashFs> {
  const fs = CrashFs.from(initial);
  const files = new Map<number, StorageFile>();
  const inPlace = new Map<number, InPlaceFile>();
  for (const line of text.split("\n")) {
    let op: Op;
    try {
      op = JSON.parse(line) as Op;
    } catch {
      continue; // empty, or cut short by the kill
    }
    switch (op.op) {
      case "mkdirp":
        await fs.mkdirp(op.dir);
        break;
      case "create":
        files.set(op.id, await fs.createExclusive(op.path));
        break;
      case "open":
        files.set(op.id, await fs.openForWrite(op.path));
        break;
      case "inplace":
        inPlace.set(op.id, await fs.openInPlace(op.path));
        break;
      case "write": {
        const data = Buffer.from(op.data, "base64");
        const ip = inPlace.get(op.id);
        if (ip !== undefined) ip.writeAt(data, op.pos);
        else await files.get(op.id)?.write(data, op.pos);
        break;
      }
      case "truncate":
        await files.get(op.id)?.truncate(op.length);
        break;
      case "datasync":
        await (inPlace.get(op.id) ?? files.get(op.id))?.datasync();
        break;
      case "unlink":
        await fs.unlink(op.path);
        break;
      case "rename":
        await fs.rename(op.from, op.to);
        break;
      case "link":
        await fs.link(op.from, op.to);
        break;
      case "fsyncDir":
        await fs.fsyncDir(op.dir);
        break;
      default: {
        const never: never = op;
        throw new Error(`unknown journal entry ${JSON.stringify(never)}`);
      }
    }
  }
  return fs;
}

const journal = process.env["OUTLAST_TEST_FS_JOURNAL"];
if (journal !== undefined && journal !== "") install(journal, process.env["OUTLAST_TEST_BOOT_ID"]);
