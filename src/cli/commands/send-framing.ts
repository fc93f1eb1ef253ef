/**
 * `outlast send` input: where the bytes come from (stdin or files, optionally
 * followed as they grow) and how they are cut into messages (`--framing`).
 */

import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

export const FRAMINGS = ["lines", "length-prefixed", "raw"] as const;
export type Framing = (typeof FRAMINGS)[number];

/** The input could not be cut into messages (a message too large, a truncated length prefix). */
export class FramingError extends Error {
  override name = "FramingError";
}

const FOLLOW_POLL_MS = 250;

/** The bytes of one file as it grows, until `signal` aborts (like `tail -f` from the start). */
async function* followFile(path: string, signal: AbortSignal): AsyncGenerator<Buffer> {
  const file = await open(path, "r");
  try {
    let position = 0;
    const buf = Buffer.alloc(64 * 1024);
    while (!signal.aborted) {
      const { bytesRead } = await file.read(buf, 0, buf.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        yield Buffer.from(buf.subarray(0, bytesRead));
      } else {
        await sleep(FOLLOW_POLL_MS, undefined, { signal }).catch(() => undefined);
      }
    }
  } finally {
    await file.close();
  }
}

/**
 * The chunks of every input in order: "-" is stdin. Ends early (without an
 * error) when `signal` aborts. With `follow`, files are read as they grow and
 * the end of stdin waits for `signal`.
 */
export async function* readInputs(
  paths: readonly string[],
  follow: boolean,
  signal: AbortSignal,
): AsyncGenerator<Buffer> {
  for (const path of paths.length === 0 ? ["-"] : paths) {
    if (signal.aborted) return;
    if (path !== "-" && follow) {
      yield* followFile(path, signal);
      continue;
    }
    const stream = path === "-" ? process.stdin : createReadStream(path);
    const onAbort = (): void => void stream.destroy();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const chunk of stream) {
        yield typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
        if (signal.aborted) return;
      }
    } catch (err) {
      if (signal.aborted) return; // destroyed by the abort: a clean end
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (path !== "-") stream.destroy();
    }
    if (path === "-" && follow && !signal.aborted) {
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    }
  }
}

/** Cuts chunks into messages. Throws FramingError. */
export async function* frameMessages(
  chunks: AsyncIterable<Buffer>,
  framing: Framing,
  maxMessageBytes: number,
): AsyncGenerator<Buffer> {
  switch (framing) {
    case "raw":
      for await (const chunk of chunks) {
        for (let at = 0; at < chunk.length; at += maxMessageBytes) yield chunk.subarray(at, at + maxMessageBytes);
      }
      return;
    case "lines":
      yield* lines(chunks, maxMessageBytes);
      return;
    case "length-prefixed":
      yield* lengthPrefixed(chunks, maxMessageBytes);
      return;
    default: {
      const never: never = framing;
      return never;
    }
  }
}

/** Newline-delimited; a trailing \r is removed; empty lines are skipped; a last line without \n counts. */
async function* lines(chunks: AsyncIterable<Buffer>, maxMessageBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let lineNo = 0;
  const emit = (line: Buffer): Buffer | undefined => {
    lineNo++;
    const body = line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
    if (body.length > maxMessageBytes)
      throw new FramingError(
        `line ${lineNo} is ${body.length} bytes; a message may be at most ${maxMessageBytes} bytes`,
      );
    return body.length === 0 ? undefined : body;
  };
  for await (const chunk of chunks) {
    let data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let nl: number;
    while ((nl = data.indexOf(0x0a)) !== -1) {
      const m = emit(data.subarray(0, nl));
      if (m !== undefined) yield Buffer.from(m);
      data = data.subarray(nl + 1);
    }
    if (data.length > maxMessageBytes + 1)
      throw new FramingError(`line ${lineNo + 1} is longer than ${maxMessageBytes} bytes, the most a message may be`);
    pending = Buffer.from(data);
  }
  if (pending.length > 0) {
    const m = emit(pending);
    if (m !== undefined) yield m;
  }
}

/** Each message is a 4-byte big-endian length and that many bytes. */
async function* lengthPrefixed(chunks: AsyncIterable<Buffer>, maxMessageBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  for await (const chunk of chunks) {
    let data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (data.length >= 4) {
      const length = data.readUInt32BE(0);
      if (length > maxMessageBytes)
        throw new FramingError(
          `message ${index + 1} has a length prefix of ${length} bytes; a message may be at most ${maxMessageBytes} bytes`,
        );
      if (data.length < 4 + length) break;
      index++;
      yield Buffer.from(data.subarray(4, 4 + length));
      data = data.subarray(4 + length);
    }
    pending = Buffer.from(data);
  }
  if (pending.length > 0)
    throw new FramingError(
      `the input ends inside message ${index + 1} (${pending.length} bytes after the last whole message)`,
    );
}

/** An error reading or cutting the input (not the client's): what was read before it is still delivered. */
export class InputError extends Error {
  override name = "InputError";
}

/** The messages of `--framing` cut from the inputs; any error of the input itself becomes an InputError. */
export async function* inputMessages(
  c: { readonly inputs: readonly string[]; readonly follow: boolean; readonly framing: Framing },
  maxMessageBytes: number,
  signal: AbortSignal,
): AsyncGenerator<Buffer> {
  const messages = frameMessages(readInputs(c.inputs, c.follow, signal), c.framing, maxMessageBytes);
  for (;;) {
    let next: IteratorResult<Buffer>;
    try {
      next = await messages.next();
    } catch (err) {
      throw new InputError(err instanceof Error ? err.message : String(err), { cause: err });
    }
    if (next.done === true) return;
    yield next.value;
  }
}
