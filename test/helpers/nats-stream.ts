/**
 * Reads a whole stream back (an ordered consumer from the first message to the last
 * at the time of the call), and checks what outlast promises about it: per client,
 * every acknowledged seq present, no seq twice, seqs increasing in stream order.
 */

import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { StreamConfig } from "@nats-io/jetstream";
import { retry } from "../../src/errors/retry.js";

export interface StoredRecord {
  readonly streamSeq: number;
  readonly subject: string;
  readonly clientId: string;
  readonly seq: number;
  readonly data: Uint8Array;
  readonly timeMs: number;
}

export async function withNats<T>(servers: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: servers.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Creates a stream (retrying while the cluster elects its meta leader). */
export async function addStream(servers: string, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  await withNats(servers, async (nc) => {
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 3000 });
    for (let attempt = 0; ; attempt++) {
      try {
        await jsm.streams.add(config);
        return;
      } catch (err) {
        if (attempt >= 20 || (err as { name?: unknown }).name !== "TimeoutError") throw err;
      }
    }
  });
}

export async function deleteStream(servers: string, name: string): Promise<void> {
  await withNats(servers, async (nc) => {
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 5000 });
    await jsm.streams.delete(name).catch(() => false);
  });
}

/** The current stream leader's server name. */
export async function streamLeader(servers: string, stream: string): Promise<string> {
  return withNats(servers, async (nc) => {
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 5000 });
    for (let attempt = 0; ; attempt++) {
      try {
        const leader = (await jsm.streams.info(stream)).cluster?.leader;
        if (leader !== undefined && leader !== "") return leader;
      } catch (err) {
        if (attempt >= 30) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
}

/** Every message of the stream, in stream order. */
export async function readStream(servers: string, stream: string): Promise<StoredRecord[]> {
  // Just after a node kill the JetStream API can time out while the cluster settles: read again.
  return retry(() => readStreamOnce(servers, stream), { attempts: 8, baseMs: 250, capMs: 2_000 });
}

async function readStreamOnce(servers: string, stream: string): Promise<StoredRecord[]> {
  return withNats(servers, async (nc) => {
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 10_000 });
    const info = await jsm.streams.info(stream);
    const last = info.state.last_seq;
    const out: StoredRecord[] = [];
    if (info.state.messages === 0) return out;
    const js = jetstream(nc, { timeout: 10_000 });
    const consumer = await js.consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      out.push({
        streamSeq: m.seq,
        subject: m.subject,
        clientId: m.headers?.get("Outlast-Client-Id") ?? "",
        seq: Number(m.headers?.get("Outlast-Seq") ?? "NaN"),
        data: m.data,
        timeMs: Number(m.info.timestampNanos) / 1e6,
      });
      if (m.seq >= last) break;
    }
    await messages.close();
    return out;
  });
}

export interface StreamCheck {
  readonly lost: string[];
  readonly duplicated: string[];
  readonly reordered: string[];
  readonly perClient: Map<string, number[]>;
}

/**
 * `acknowledged`: per clientId, the seqs the clients were told are delivered. `sent`: every seq
 * each client ever had (a stored seq outside it is an invention).
 */
export function checkStream(
  records: readonly StoredRecord[],
  acknowledged: ReadonlyMap<string, Iterable<number>>,
): StreamCheck {
  const perClient = new Map<string, number[]>();
  for (const r of records) {
    let list = perClient.get(r.clientId);
    if (list === undefined) perClient.set(r.clientId, (list = []));
    list.push(r.seq);
  }
  const lost: string[] = [];
  const duplicated: string[] = [];
  const reordered: string[] = [];
  for (const [id, seqs] of perClient) {
    const seen = new Set<number>();
    for (let i = 0; i < seqs.length; i++) {
      const s = seqs[i] as number;
      if (seen.has(s)) duplicated.push(`${id}:${s}`);
      seen.add(s);
      if (i > 0 && s <= (seqs[i - 1] as number) && !duplicated.includes(`${id}:${s}`)) reordered.push(`${id}:${s}`);
    }
  }
  for (const [id, seqs] of acknowledged) {
    const stored = new Set(perClient.get(id) ?? []);
    for (const s of seqs) if (!stored.has(s)) lost.push(`${id}:${s}`);
  }
  return { lost, duplicated, reordered, perClient };
}
