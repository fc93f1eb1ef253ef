// Shared helpers for the proxy tests: an upstream server, a proxy, clients, and waits with their own timeouts.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { TestContext } from "node:test";
import type { ManualClock } from "../../src/errors/clock.js";
import { createProxy, type FaultProxy, type ProxyOptions } from "../../src/proxy/index.js";
import { within } from "../helpers/wait.js";

export { within };

/**
 * Shows, without waiting, that a proxy driven by `clock` will not act on its own: no timer of its
 * is pending, so only a new socket event or a fault change can make it forward, connect or close.
 * (What it did so far is in its stats and on the sockets.)
 */
export function assertNothingScheduled(clock: ManualClock): void {
  assert.equal(clock.pending, 0, "the proxy has a timer pending: it may still act");
}

export interface Upstream {
  readonly port: number;
  readonly sockets: Socket[];
  /** The next accepted socket (or one already accepted and not yet taken). */
  accepted(): Promise<Socket>;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1:0; `echo` writes back what it reads. */
export async function startUpstream(t: TestContext, mode: "echo" | "sink" = "sink"): Promise<Upstream> {
  const sockets: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  const queued: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    if (mode === "echo") socket.pipe(socket);
    const w = waiting.shift();
    if (w === undefined) queued.push(socket);
    else w(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return {
    port,
    sockets,
    accepted: () => {
      const s = queued.shift();
      return within(
        s === undefined ? new Promise<Socket>((resolve) => waiting.push(resolve)) : Promise.resolve(s),
        5000,
        "an upstream connection",
      );
    },
    close,
  };
}

export async function startProxy(t: TestContext, options: ProxyOptions): Promise<{ proxy: FaultProxy; port: number }> {
  const proxy = createProxy(options);
  t.after(() => proxy.destroy());
  const { port } = await proxy.listen();
  return { proxy, port };
}

/** A client socket to 127.0.0.1:port, connected; destroyed after the test. */
export async function connectClient(t: TestContext, port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.setNoDelay(true);
  t.after(() => socket.destroy());
  await within(once(socket, "connect"), 5000, "connect");
  return socket;
}

/** Records what a socket sees: chunks, end, close, error. */
export class Recorder {
  readonly chunks: Buffer[] = [];
  ended = false;
  closed = false;
  error: (Error & { code?: string; errno?: number; syscall?: string }) | undefined;
  readonly #socket: Socket;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (c: Buffer) => this.chunks.push(c));
    socket.on("end", () => {
      this.ended = true;
    });
    socket.on("close", () => {
      this.closed = true;
    });
    socket.on("error", (err) => {
      this.error = err;
    });
  }

  get bytes(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  /** Resolves once at least `n` bytes arrived. */
  bytesAtLeast(n: number, ms = 5000): Promise<void> {
    return this.#until(() => this.bytes >= n, ms, `${n} bytes (have ${this.bytes})`);
  }

  endedOrClosed(ms = 5000): Promise<void> {
    return this.#until(() => this.ended || this.closed, ms, "end or close");
  }

  closedNow(ms = 5000): Promise<void> {
    return this.#until(() => this.closed, ms, "close");
  }

  #until(done: () => boolean, ms: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!done()) return;
          for (const e of ["data", "end", "close", "error"]) this.#socket.off(e, check);
          resolve();
        };
        for (const e of ["data", "end", "close", "error"]) this.#socket.on(e, check);
      }),
      ms,
      what,
    );
  }
}
