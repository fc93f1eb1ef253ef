/**
 * Contender "outlast": `connect()` with the default memory outbox and default
 * options, to `createServer()` (memory dedup state, a handler that does nothing)
 * on loopback. A message counts as acknowledged when its send() promise
 * (default wait: "acknowledged") resolves.
 */

import { connect } from "../../src/index.js";
import type { Client, StateChangeEvent } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { outlastVersion } from "../report.js";
import type { BenchClient, Contender } from "./contender.js";
import { forkNodeServer } from "./node-server-process.js";

/** Server side (runs in server-child). */
export async function serveOutlast(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer({ onMessage: () => {} });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { port, close: () => server.close() };
}

class OutlastBenchClient implements BenchClient {
  readonly #client: Client;
  #failed: ((err: Error) => void) | undefined;

  constructor(client: Client) {
    this.#client = client;
    // Any link loss during a run is a failed run: the benchmark measures the happy path.
    client.on("stateChange", (e: StateChangeEvent) => {
      if (e.to === "waiting") this.#failed?.(e.error ?? new Error("outlast: link lost"));
    });
    client.on("error", (err: Error) => this.#failed?.(err));
  }

  pipelined(payload: Buffer, count: number, window: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      let sent = 0;
      let acked = 0;
      const onAck = () => {
        acked++;
        if (acked === count) resolve(acked);
        else if (sent < count) send();
      };
      const send = () => {
        sent++;
        this.#client.send(payload).then(onAck, reject);
      };
      while (sent < Math.min(window, count)) send();
    });
  }

  async roundTrip(payload: Buffer): Promise<void> {
    await this.#client.send(payload);
  }

  async close(): Promise<void> {
    this.#failed = undefined;
    await this.#client.close({ timeoutMs: 10_000 });
  }
}

export const contender: Contender = {
  name: "outlast",
  description: "outlast connect() + memory outbox to createServer(), defaults",
  clientVersion: () => `outlast ${outlastVersion()} (this tree)`,
  startServer: (o) => forkNodeServer("outlast", `outlast ${outlastVersion()} (this tree)`, o.execArgv),
  async openClient(port: number, clientId: string): Promise<BenchClient> {
    const client = connect(`tcp://127.0.0.1:${port}`, { clientId });
    if (client.state !== "open") {
      const opened = new Promise<void>((resolve, reject) => {
        const onState = (e: StateChangeEvent) => {
          if (e.to === "open") {
            client.off("stateChange", onState);
            resolve();
          } else if (e.to === "waiting" || e.to === "closed") {
            client.off("stateChange", onState);
            reject(e.error ?? new Error(`outlast: connect failed (${e.to})`));
          }
        };
        client.on("stateChange", onState);
      });
      try {
        await opened;
      } catch (err) {
        await client.destroy();
        throw err;
      }
    }
    return new OutlastBenchClient(client);
  },
};
