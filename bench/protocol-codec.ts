/**
 * Encode/decode throughput of MESSAGE frames (256 B and 4 KiB payloads).
 * Prints msgs/s, the median of 5 runs, per operation:
 *   encodeFrame        - whole frame into a new Buffer (copies the payload)
 *   encodeMessageHeader- 13-byte header only (payload written separately: cork/writev)
 *   decode             - FrameDecoder.push over a prebuilt stream cut into 64 KiB chunks
 *                        (frames split across chunk boundaries, as from a socket)
 *   decode (copy)      - same with copyMessageData: true
 *   encode+decode      - writeMessageHeader + payload copy into 64 KiB chunks, each pushed to a decoder
 * Run: npx tsc -p tsconfig.json --outDir .build-protocol && node .build-protocol/bench/protocol-codec.js
 */

import { FrameDecoder } from "../src/protocol/frame-decoder.js";
import { encodeFrame, encodeMessageHeader, writeMessageHeader } from "../src/protocol/frame-encoder.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../src/protocol/frames.js";
import { MESSAGE_HEADER_BYTES } from "../src/protocol/limits.js";

const CHUNK_BYTES = 64 * 1024;
const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs `fn` (which handles `count` messages) RUNS times after a warm-up; returns the median msgs/s. */
function measure(count: number, fn: () => void): number {
  fn();
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(count / s);
  }
  return median(rates);
}

function chunks(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < stream.length; o += CHUNK_BYTES) out.push(stream.subarray(o, o + CHUNK_BYTES));
  return out;
}

let sink = 0;

function bench(size: number, count: number): void {
  const data = Buffer.alloc(size, 0x5a);
  const stream = Buffer.concat(
    Array.from({ length: count }, (_, i) => encodeFrame({ type: "message", seq: i + 1, data })),
  );
  const pieces = chunks(stream);

  const results: [string, number][] = [
    [
      "encodeFrame",
      measure(count, () => {
        for (let i = 1; i <= count; i++) sink += encodeFrame({ type: "message", seq: i, data }).length;
      }),
    ],
    [
      "encodeMessageHeader",
      measure(count, () => {
        for (let i = 1; i <= count; i++) sink += encodeMessageHeader(i, size).length;
      }),
    ],
    [
      "decode",
      measure(count, () => {
        const d = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
        for (const p of pieces) sink += d.push(p).length;
      }),
    ],
    [
      "decode (copy)",
      measure(count, () => {
        const d = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, copyMessageData: true });
        for (const p of pieces) sink += d.push(p).length;
      }),
    ],
    [
      "encode+decode",
      measure(count, () => {
        const d = new FrameDecoder({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES });
        let buf = Buffer.allocUnsafe(CHUNK_BYTES);
        let off = 0;
        for (let i = 1; i <= count; i++) {
          if (off + MESSAGE_HEADER_BYTES + size > buf.length) {
            sink += d.push(buf.subarray(0, off)).length;
            buf = Buffer.allocUnsafe(CHUNK_BYTES);
            off = 0;
          }
          off = writeMessageHeader(buf, off, i, size);
          off += data.copy(buf, off);
        }
        sink += d.push(buf.subarray(0, off)).length;
      }),
    ],
  ];
  for (const [name, rate] of results) {
    console.log(
      `${String(size).padStart(5)} B  ${name.padEnd(20)} ${Math.round(rate).toLocaleString("en-US").padStart(12)} msgs/s`,
    );
  }
}

console.log(`node ${process.version}, median of ${RUNS} runs`);
bench(256, 500_000);
bench(4096, 100_000);
if (sink < 0) console.log(sink);
