/**
 * Test tools for mqtt://: a subscriber that records what a real broker
 * delivered (with each message's outlast identity), and a tap between the
 * client and the broker that reads the PUBLISH fixed headers going up (to see
 * DUP) and can stop passing the broker's answers down (lost PUBACKs).
 */
import net from "node:net";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { connectAsync } from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import { readMqttEnvelope } from "../../../src/index.js";

export interface Received {
  readonly clientId: string;
  readonly seq: number;
  readonly data: Buffer;
}

/** A subscriber on `topic` (QoS 1) that records every message with its (clientId, seq). */
export class Subscriber {
  readonly messages: Received[] = [];
  /** Messages without an outlast identity (must stay empty). */
  readonly unidentified: Buffer[] = [];
  readonly #client: MqttClient;
  #waiters: { n: number; resolve: () => void }[] = [];

  private constructor(client: MqttClient, envelope: boolean) {
    this.#client = client;
    client.on("message", (_topic, payload, packet) => {
      const props = packet.properties?.userProperties;
      let r: Received | undefined;
      if (envelope) {
        const e = readMqttEnvelope(payload);
        if (e !== undefined) r = { clientId: e.clientId, seq: e.seq, data: Buffer.from(e.data) };
      } else if (props !== undefined) {
        const id = props["outlast-client-id"];
        const seq = props["outlast-seq"];
        if (typeof id === "string" && typeof seq === "string") r = { clientId: id, seq: Number(seq), data: payload };
      }
      if (r === undefined) this.unidentified.push(payload);
      else this.messages.push(r);
      this.#waiters = this.#waiters.filter((w) => {
        if (this.messages.length < w.n) return true;
        w.resolve();
        return false;
      });
    });
  }

  static async start(
    url: string,
    topic: string,
    options: IClientOptions & { envelope?: boolean } = {},
  ): Promise<Subscriber> {
    const { envelope = false, ...rest } = options;
    const client = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100, ...rest });
    const sub = new Subscriber(client, envelope);
    await client.subscribeAsync(topic, { qos: 1 });
    return sub;
  }

  /** Resolves once `n` messages (duplicates included) arrived. */
  receivedAtLeast(n: number): Promise<void> {
    if (this.messages.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  /** Distinct (clientId, seq) received, and the duplicates (same identity again, same bytes asserted by the caller). */
  distinct(): Map<string, Received> {
    const m = new Map<string, Received>();
    for (const r of this.messages) if (!m.has(`${r.clientId}:${r.seq}`)) m.set(`${r.clientId}:${r.seq}`, r);
    return m;
  }

  async close(): Promise<void> {
    await this.#client.endAsync(true);
  }
}

/** A TCP tap: counts PUBLISH packets going up by their DUP flag, and can drop everything coming down. */
export class Tap {
  /** PUBLISHes seen going up, per connection, with the DUP flag of each. */
  readonly connections: { publishes: number; dups: number }[] = [];
  dropDown = false;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(brokerPort: number): Promise<Tap> {
    const server = net.createServer();
    const tap = new Tap(server);
    server.on("connection", (client) => tap.#pipe(client, brokerPort));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return tap;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  #pipe(client: net.Socket, brokerPort: number): void {
    const stats = { publishes: 0, dups: 0 };
    this.connections.push(stats);
    const upstream = net.connect({ host: "127.0.0.1", port: brokerPort });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    let pending: Buffer = Buffer.alloc(0);
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk);
      pending = countPublishes(Buffer.concat([pending, chunk]), stats);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!this.dropDown) client.write(chunk);
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Reads whole MQTT packets off `buf` (fixed header: type/flags byte, remaining-length varint); returns the rest. */
function countPublishes(buf: Buffer, stats: { publishes: number; dups: number }): Buffer {
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    let len = 0;
    let mul = 1;
    let i = at + 1;
    let complete = false;
    for (; i < buf.length && i < at + 5; i++) {
      const b = buf[i] as number;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        i++;
        break;
      }
    }
    if (!complete || buf.length < i + len) break;
    const first = buf[at] as number;
    if (first >> 4 === 3) {
      stats.publishes++;
      if ((first & 0x08) !== 0) stats.dups++;
    }
    at = i + len;
  }
  return buf.subarray(at);
}
