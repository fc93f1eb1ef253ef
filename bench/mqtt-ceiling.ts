/**
 * The ceiling for the MQTT backlog case: how fast can ANY client get N QoS 1
 * messages acknowledged by this Mosquitto? A measuring tool, not product code:
 * a raw socket, the PUBLISH packets (256 B payload, the same two MQTT 5 user
 * properties outlast sends) encoded before the clock starts into one buffer,
 * written as contiguous slices with no copy, as many at once as the window
 * allows, PUBACKs only counted. Nothing a real client does (a send() API, an
 * outbox, MQTT.js's encoder) is on this path, so no client can beat it.
 *
 * Two windows: the broker's Receive Maximum from the CONNACK (the contract a
 * client must keep, outlast does) and none at all (every PUBLISH written at
 * once, as MQTT.js 5.16 does with its offline queue; Mosquitto tolerates it).
 * Times: from the TCP connect to the last PUBACK, and from the CONNACK.
 *
 * Usage: node dist/bench/mqtt-ceiling.js [--messages N] [--rounds N]
 *   (bench/mqtt-transport.ts runs the same measurement beside outlast and MQTT.js with --write)
 */

import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Broker } from "./mqtt-broker.js";

const PROPS = [
  ["outlast-client-id", "0b5f5b0e-6a38-4c0c-9a59-2f7f0f5f1f0e"],
  ["outlast-seq", ""],
] as const;

function varInt(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function connectPacket(clientId: string): Buffer {
  // MQTT 5 CONNECT: "MQTT", version 5, clean start, keepalive 60 s, no properties.
  const body = Buffer.concat([str("MQTT"), Buffer.from([5, 0x02, 0, 60, 0]), str(clientId)]);
  return Buffer.concat([Buffer.from([0x10, ...varInt(body.length)]), body]);
}

function publishPacket(topic: string, id: number, seq: number, payload: Buffer): Buffer {
  const props = Buffer.concat(
    PROPS.map(([name, value]) =>
      Buffer.concat([Buffer.from([0x26]), str(name), str(value === "" ? String(seq) : value)]),
    ),
  );
  const idBuf = Buffer.alloc(2);
  idBuf.writeUInt16BE(id);
  const body = Buffer.concat([str(topic), idBuf, Buffer.from(varInt(props.length)), props, payload]);
  return Buffer.concat([Buffer.from([0x32, ...varInt(body.length)]), body]);
}

/** CONNACK properties: the Receive Maximum (0x21), 65,535 when absent. */
function receiveMaximum(connack: Buffer): number {
  // connack: fixed header (2 bytes here: it is small), flags, reason code, properties length, properties.
  if (connack[3] !== 0) throw new Error(`CONNACK refused: reason code ${String(connack[3])}`);
  let i = 4;
  const propsEnd = i + 1 + (connack[i] as number);
  i++;
  while (i < propsEnd) {
    const id = connack[i++] as number;
    if (id === 0x21) return connack.readUInt16BE(i);
    // Skip the value by its type.
    if ([0x24, 0x25, 0x28, 0x29, 0x2a, 0x17, 0x19, 0x01].includes(id)) i += 1;
    else if ([0x13, 0x22, 0x23].includes(id)) i += 2;
    else if ([0x11, 0x27, 0x02, 0x18].includes(id)) i += 4;
    else if (id === 0x26) i += 4 + connack.readUInt16BE(i) + connack.readUInt16BE(i + 2 + connack.readUInt16BE(i));
    else i += 2 + connack.readUInt16BE(i); // strings and binary data
  }
  return 65_535;
}

export interface CeilingResult {
  /** From the TCP connect to the last PUBACK. */
  readonly totalMs: number;
  /** From the CONNACK to the last PUBACK. */
  readonly afterConnackMs: number;
  /** The window kept: the broker's Receive Maximum, or Infinity. */
  readonly window: number;
}

/**
 * Publishes `messages` (256 B each) to the broker at `port` and resolves when all are acknowledged.
 * `keepWindow`: at most the broker's Receive Maximum unacknowledged; else everything at once.
 */
export async function blast(port: number, messages: number, keepWindow: boolean): Promise<CeilingResult> {
  const payload = Buffer.alloc(256, 0x61);
  const packets: Buffer[] = [];
  for (let i = 0; i < messages; i++)
    packets.push(publishPacket("bench/mqtt-ceiling", (i % 65_535) + 1, i + 1, payload));
  const all = Buffer.concat(packets);
  const ends: number[] = [];
  let at = 0;
  for (const p of packets) ends.push((at += p.length));

  const t0 = performance.now();
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  await once(socket, "connect");
  socket.write(connectPacket(`ceiling-${process.pid}-${Math.random().toString(36).slice(2)}`));
  return new Promise<CeilingResult>((resolve, reject) => {
    let connackAt = 0;
    let window = Infinity;
    let written = 0; // PUBLISHes written
    let acked = 0;
    let pending: Buffer = Buffer.alloc(0);
    const writeMore = (): void => {
      const upTo = Math.min(messages, acked + window);
      if (upTo <= written) return;
      socket.write(all.subarray(written === 0 ? 0 : ends[written - 1], ends[upTo - 1]));
      written = upTo;
    };
    socket.on("error", reject);
    socket.on("data", (data: Buffer) => {
      let buf: Buffer = pending.length === 0 ? data : Buffer.concat([pending, data]);
      for (;;) {
        if (buf.length < 2) break;
        let len = 0;
        let mult = 1;
        let i = 1;
        for (; i < 5 && i < buf.length; i++) {
          const b = buf[i] as number;
          len += (b & 0x7f) * mult;
          mult *= 128;
          if ((b & 0x80) === 0) break;
        }
        const end = i + 1 + len;
        if (end > buf.length) break;
        const type = (buf[0] as number) >> 4;
        if (type === 2) {
          connackAt = performance.now();
          if (keepWindow) window = receiveMaximum(buf.subarray(0, end));
        } else if (type === 4) acked++;
        buf = buf.subarray(end);
      }
      pending = buf;
      if (acked === messages) {
        const t1 = performance.now();
        socket.end(Buffer.from([0xe0, 0x00])); // DISCONNECT
        resolve({ totalMs: t1 - t0, afterConnackMs: t1 - connackAt, window });
        return;
      }
      if (connackAt > 0) writeMore();
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { messages: { type: "string", default: "10000" }, rounds: { type: "string", default: "5" } },
  });
  const messages = Number(values.messages);
  const rounds = Number(values.rounds);
  const dir = await mkdtemp(join(tmpdir(), "outlast-bench-ceiling-"));
  try {
    for (const [label, extra] of [
      ["Mosquitto defaults", []],
      ["max_inflight_messages 0", ["max_inflight_messages 0"]],
    ] as const) {
      const broker = await Broker.create(dir, extra);
      await broker.start();
      for (let r = 0; r < rounds; r++) {
        for (const keep of [true, false]) {
          const res = await blast(broker.port, messages, keep);
          console.log(
            `${label}, window ${keep ? String(res.window) : "none"}: ${messages} acknowledged in ${res.totalMs.toFixed(1)} ms (${res.afterConnackMs.toFixed(1)} after CONNACK)`,
          );
        }
      }
      await broker.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) await main();
